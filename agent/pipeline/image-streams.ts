// The pipeline routes image streams through de-identification; which streams those are is a fact of
// their config, so the predicate lives with the config (agent/config/image-streams.ts).
export { isImageStream } from '../config/image-streams.ts';
