/**
 * The pixel count of a PNG, JPEG or BMP read from its header, so an oversized image is refused before it is
 * decoded (a small file can hold a huge image).
 */

/** An image with more pixels than the service accepts. */
export class PixelLimitError extends Error {
  override readonly name = 'PixelLimitError';
  constructor(
    readonly image: string,
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    super(`${image}: ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels}`);
  }
}

/** Width and height from the header, or undefined when the header cannot be read (the decoder then reports it). */
export function headerDimensions(bytes: Uint8Array): { width: number; height: number } | undefined {
  const b = bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) {
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    // Walk the segments to the first start-of-frame marker (SOF0..SOF15 except DHT, JPG, DAC).
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      const length = view.getUint16(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(i + 7), height: view.getUint16(i + 5) };
      }
      i += 2 + length;
    }
  }
  return undefined;
}

/** @throws PixelLimitError when the header says the image has more than `maxPixels` pixels */
export function checkPixelLimit(bytes: Uint8Array, image: string, maxPixels: number): void {
  const d = headerDimensions(bytes);
  if (d && d.width * d.height > maxPixels) throw new PixelLimitError(image, d.width, d.height, maxPixels);
}
