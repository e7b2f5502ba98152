using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>One entry of a subscriber's queue: a stored event, or pre-encoded bytes with no id (heartbeat).</summary>
public readonly record struct LiveItem(StoredEvent? Event, ReadOnlyMemory<byte> Unnumbered);
