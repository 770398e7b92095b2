// @hgm/refiner: Group-Gated Token Refiner: gates the global token with its similarity to the image anchors.
export { DEFAULT_GROUP_GATED_TOKEN_REFINER_CONFIG, resolveGroupGatedTokenRefinerConfig, type GroupGatedTokenRefinerConfig } from './config';
export {
  GroupGatedTokenRefiner,
  disposeGroupGatedTokenRefinerOutput,
  type GroupGatedTokenRefinerOutput,
  type GroupGatedTokenRefinerInit,
} from './group-gated-token-refiner';
