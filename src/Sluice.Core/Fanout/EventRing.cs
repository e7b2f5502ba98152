using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The recent events of one stream, indexed by id, shared by all of its subscribers on this node: a
/// subscriber keeps only a cursor, so a live event costs one slot however many read it. Written by one
/// announcer at a time, in id order; read without locks (a slot holds a reference, and its id tells the
/// reader whether it is the event it wants, an older one not yet replaced, or a newer one that overwrote it).
/// Bounded by count and by bytes: by count alone, 150 events of 900 KB to one subscriber that never read grew
/// the heap by 426 MB (SlowSubscriberMemoryTests with the byte bound lifted), so the oldest events are let go past <c>Sluice:Limits:SubscriberBufferBytes</c> (the newest always
/// stays), and a subscriber that still needed them is cut and resumes from the log.
/// </summary>
internal sealed class EventRing
{
    private const int InitialCapacity = 16;
    private readonly int _maxCapacity;
    private readonly long _maxBytes;
    private StoredEvent?[] _slots = new StoredEvent?[InitialCapacity];
    private long _head;
    private long _tail;
    private long _bytes;

    internal EventRing(int maxCapacity, long maxBytes = long.MaxValue)
    {
        _maxCapacity = Math.Max(InitialCapacity, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)maxCapacity));
        _maxBytes = maxBytes;
    }

    /// <summary>The highest id written, or 0.</summary>
    public long Head => Volatile.Read(ref _head);

    /// <summary>Ids below it were overwritten or let go: a live reader that still needs one has fallen behind the ring.</summary>
    public long Tail => Volatile.Read(ref _tail);

    /// <summary>Estimated bytes of the events held.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>The event with this id, if the ring holds it.</summary>
    public RingRead TryGet(long id, out StoredEvent? e)
    {
        var slots = Volatile.Read(ref _slots);
        e = slots[(int)(id & (slots.Length - 1))];
        if (e is null || e.Id < id)
        {
            return RingRead.Missing;
        }

        return e.Id == id ? RingRead.Found : RingRead.Overwritten;
    }

    /// <summary>Writes events in order; grows (up to the limit) rather than overwrite what <paramref name="oldestUnsent"/> still needs.</summary>
    internal void Write(IReadOnlyList<StoredEvent> events, long oldestUnsent)
    {
        var last = events[^1].Id;
        var slots = _slots;
        if (last - oldestUnsent >= slots.Length && slots.Length < _maxCapacity)
        {
            var size = slots.Length;
            while (last - oldestUnsent >= size && size < _maxCapacity)
            {
                size *= 2;
            }

            var grown = new StoredEvent?[size];
            foreach (var old in slots)
            {
                if (old is not null)
                {
                    grown[(int)(old.Id & (size - 1))] = old;
                }
            }

            Volatile.Write(ref _slots, grown);
            slots = grown;
        }

        var tail = _tail;
        var bytes = _bytes;
        foreach (var e in events)
        {
            ref var slot = ref slots[(int)(e.Id & (slots.Length - 1))];
            if (slot is { } replaced)
            {
                bytes -= replaced.ApproximateBytes;
                tail = Math.Max(tail, replaced.Id + 1);
            }

            Volatile.Write(ref slot, e);
            bytes += e.ApproximateBytes;
        }

        // Let the oldest go while over the byte budget; nothing older than the ring's size can be in it anyway.
        tail = Math.Max(tail, last - slots.Length + 1);
        while (bytes > _maxBytes && tail < last)
        {
            ref var slot = ref slots[(int)(tail & (slots.Length - 1))];
            if (slot is { } old && old.Id == tail)
            {
                bytes -= old.ApproximateBytes;
                Volatile.Write(ref slot, null);
            }

            tail++;
        }

        Volatile.Write(ref _bytes, bytes);
        Volatile.Write(ref _tail, tail);
        if (last > _head)
        {
            Volatile.Write(ref _head, last);
        }
    }
}

internal enum RingRead
{
    Found,

    /// <summary>Not announced yet (or its announcement was lost): the log has it.</summary>
    Missing,

    /// <summary>A newer event took the slot: the reader fell more than the ring's size behind.</summary>
    Overwritten,
}
