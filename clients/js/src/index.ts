export { BACKOFF_MS, JITTER, backoffDelay, parseRetryAfter } from './backoff.js';
export { type Clock, type TimerHandle, systemClock } from './clock.js';
export { type Generation, type GenerateOptions, SluiceError, generate } from './generate.js';
export { DOWN_AFTER_MS, type Health, QUALITY_WINDOW_MS, type Quality, STALE_AFTER_MS, healthOf, qualityOf } from './health.js';
export {
  type CloseReason, type ConnectionSnapshot, type EventDataMap, type TypedEvent, isEvent, type ConnectionState, EVENT_TYPES, type EventSourceFactory, type EventSourceLike,
  type SluiceEvent, SluiceSubscription, type SubscribeOptions, type SubscribeTarget, type TokenGrant, resolveTarget, subscribe, withPosition,
} from './subscription.js';
