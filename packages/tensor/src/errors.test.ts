import { describe, it, expect } from 'vitest';
import {
  HgmError,
  isHgmError,
  ConfigError,
  ShapeError,
  InvalidFileError,
  CheckpointMismatchError,
  InputNotFoundError,
  OutputWriteError,
  WeightsUnavailableError,
  DivergedError,
  InvalidStateError,
  SafetensorsError,
  StateDictError,
} from './errors';
import { BackendStartError, initBackend } from './backend';
import { ParameterStore } from './parameter-store';
import { renameKeys } from './rename-rules';

describe('typed errors', () => {
  it('each class has its stable code, its name and the fields it names', () => {
    const cases: [HgmError, string, string][] = [
      [new ConfigError('x: expected > 0, found -1'), 'config', 'ConfigError'],
      [new ShapeError('x: expected [B, D], found [3]', { input: 'x', expected: '[B, D]', found: '[3]' }), 'shape', 'ShapeError'],
      [new InvalidFileError('vocab.txt', 'vocab.txt: line 2 is not a merge'), 'invalid-file', 'InvalidFileError'],
      [new CheckpointMismatchError('m.safetensors', 'm.safetensors: saved for another configuration'), 'checkpoint-mismatch', 'CheckpointMismatchError'],
      [new InputNotFoundError('a.png', 'a.png: no such file or folder', { errno: 'ENOENT' }), 'input-not-found', 'InputNotFoundError'],
      [new OutputWriteError('/ro/out', '/ro/out: cannot write (EROFS)', { errno: 'EROFS' }), 'output-not-writable', 'OutputWriteError'],
      [new WeightsUnavailableError('weights w: offline'), 'weights-unavailable', 'WeightsUnavailableError'],
      [new DivergedError('loss is NaN'), 'diverged', 'DivergedError'],
      [new InvalidStateError('read() before the loss ran'), 'invalid-state', 'InvalidStateError'],
      [new SafetensorsError('f', 'header too long'), 'safetensors', 'SafetensorsError'],
      [new StateDictError('f', [{ kind: 'missing', key: 'w', expected: [2] }]), 'state-dict', 'StateDictError'],
      [new BackendStartError('cpu', []), 'backend-unavailable', 'BackendStartError'],
    ];
    for (const [e, code, name] of cases) {
      expect(e).toBeInstanceOf(HgmError);
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe(code);
      expect(e.name).toBe(name);
      expect(isHgmError(e, e.code)).toBe(true);
    }
    const shape = cases[1]![0] as ShapeError;
    expect([shape.input, shape.expected, shape.found]).toEqual(['x', '[B, D]', '[3]']);
    expect((cases[4]![0] as InputNotFoundError).errno).toBe('ENOENT');
    expect(isHgmError(new Error('plain'))).toBe(false);
    expect(isHgmError(new ConfigError('c'), 'shape')).toBe(false);
  });

  it('the library throws them for real failures', async () => {
    await expect(initBackend('no-such-backend' as never)).rejects.toBeInstanceOf(ConfigError);
    const store = new ParameterStore();
    expect(() => store.get('missing')).toThrow(ConfigError);
    const shapes = new Map([
      ['a.w', 1],
      ['b.w', 2],
    ]);
    expect(() => renameKeys(shapes, [{ pattern: '^(a|b)\\.', replacement: '' }], 'ckpt')).toThrow(ConfigError);
  });
});
