/**
 * Text from files SEMS installations wrote: UTF-8, or else Latin-1. SEMS passed bytes through
 * untouched, and older systems wrote umlauts in mail templates and display names in file names
 * in Latin-1.
 */
export function utf8OrLatin1(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}
