// The Agent's stop, phase by phase, in this fixed order: stop intake → drain queues → held frames
// (de-id) → close the open chunk (commit + seal) → close the session record; closeServices runs
// last whatever happened before it. Each phase takes the parts it acts on and its collaborators.
import { closeGaps } from './close-gaps.ts';
import type { DeidStage } from './deid/stage.ts';
import type { Logger } from './log.ts';
import type { StreamLedger } from './pipeline/ledger.ts';
import type { SessionRecorder } from './session-recorder.ts';
import type { AgentParts } from './start-phases.ts';

/** Frames held for de-id that were deleted unread (each a gap in the session record). */
export type HeldLost = Awaited<ReturnType<DeidStage['finishHolding']>>;

/** 1. Stop intake: every driver closes; samples still held by snapshot rings count as dropped. */
export async function stopIntake(
  parts: AgentParts,
  snapshots: { countHeldAsDropped(): void },
): Promise<void> {
  await Promise.allSettled(parts.drivers.map((d) => d.close()));
  // Samples still held by snapshot rings were never inside a window: count them, do not lose them silently.
  snapshots.countHeldAsDropped();
}

/** 2. Drain the queues into the writer (de-id included). */
export async function drainQueues(parts: AgentParts, log: Logger): Promise<void> {
  await parts.capture?.drain().catch((err: unknown) => log.error({ err }, 'drain failed'));
}

/**
 * 2b. Held frames: blurred into the open chunk while the budget allows (a fifth of the stop's time
 * is kept for sealing), the rest deleted unread and returned, to be counted as a gap. `complete`
 * de-identifies every one, however long that takes.
 */
export async function finishHeldFrames(
  parts: AgentParts,
  budget: {
    complete: boolean;
    timeoutMs: number;
    startedMs: number;
    onDeidProgress?: ((heldFrames: number) => void) | undefined;
  },
): Promise<HeldLost> {
  const { complete, timeoutMs, startedMs, onDeidProgress } = budget;
  return (
    (await parts.deid?.finishHolding(
      complete
        ? { ...(onDeidProgress === undefined ? {} : { onProgress: onDeidProgress }) }
        : { deadlineMs: Math.max(0, Math.floor(timeoutMs * 0.8) - (Date.now() - startedMs)) },
    )) ?? []
  );
}

/** 3. Close the open chunk: commit + seal. */
export async function closeOpenChunk(parts: AgentParts): Promise<void> {
  await parts.session?.writer.close();
}

/**
 * 4. Close the session record, once nothing of it is left unsigned (`settle` false: it stays open
 * for the next start's recovery), with its gaps; then end the session in the catalog.
 */
export async function closeSessionRecord(
  parts: AgentParts,
  close: {
    reason: string;
    heldLost: HeldLost;
    ledger: StreamLedger;
    topicOf: ReadonlyMap<string, string>;
    settle: (session: SessionRecorder) => Promise<boolean>;
  },
): Promise<void> {
  const { session, sealer } = parts;
  if (session === undefined || sealer === undefined || !(await close.settle(session))) return;
  const { sessionId } = session;
  const endNs = BigInt(Date.now()) * 1_000_000n;
  const gaps = await closeGaps(sealer.store, sessionId, {
    dropWindows: close.ledger.dropWindows.take(),
    heldLost: close.heldLost,
    fallbackNs: endNs,
    topicOf: close.topicOf,
  });
  await sealer.closeSession({ sessionId, endNs, reason: close.reason, gaps });
  parts.catalog?.endSession(sessionId, endNs, 'closed');
}

/** Last: stop services (heartbeat, disk budget, de-id, clock, keys, catalog), then the closers. */
export async function closeServices(parts: AgentParts, services: AbortController): Promise<void> {
  services.abort();
  if (parts.heartbeat !== undefined) clearInterval(parts.heartbeat);
  parts.disk?.close();
  await parts.deid?.close().catch(() => undefined);
  await parts.clock?.close().catch(() => undefined);
  await parts.sealer?.close().catch(() => undefined);
  parts.catalog?.close();
  parts.catalog = undefined;
  for (const close of parts.closers.splice(0)) close();
}
