// @hgm/refiner: Group-Gated Token Refiner: gates the global token with its similarity to the image anchors
