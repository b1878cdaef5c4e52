// Types for build-sd-notify.js (plain JS so it runs before anything is set up).
export declare const sdNotifySource: string;
export declare const sdNotifyAddon: string;
/** Compiles the addon unless it exists; returns null on success or the compiler's complaint. */
export declare function buildSdNotify(options?: {
  force?: boolean;
  output?: string;
  cc?: string;
  flags?: readonly string[];
}): string | null;
