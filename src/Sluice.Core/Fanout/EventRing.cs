using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The recent events of one stream, indexed by id, shared by all of its subscribers on this node: a
/// subscriber keeps only a cursor, so a live event costs one slot however many read it. Written by one
/// announcer at a time, in id order; read without locks (a slot holds a reference, and its id tells the
/// reader whether it is the event it wants, an older one not yet replaced, or a newer one that overwrote it).
/// </summary>
public sealed class EventRing
{
    private const int InitialCapacity = 16;
    private readonly int _maxCapacity;
    private StoredEvent?[] _slots = new StoredEvent?[InitialCapacity];
    private long _head;

    internal EventRing(int maxCapacity) => _maxCapacity = Math.Max(InitialCapacity, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)maxCapacity));

    /// <summary>The highest id written, or 0.</summary>
    public long Head => Volatile.Read(ref _head);

    /// <summary>How far behind the head a reader may fall before its events are overwritten.</summary>
    public int MaxLag => _maxCapacity;

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

        foreach (var e in events)
        {
            Volatile.Write(ref slots[(int)(e.Id & (slots.Length - 1))], e);
        }

        if (last > _head)
        {
            Volatile.Write(ref _head, last);
        }
    }
}

public enum RingRead
{
    Found,

    /// <summary>Not announced yet (or its announcement was lost): the log has it.</summary>
    Missing,

    /// <summary>A newer event took the slot: the reader fell more than the ring's size behind.</summary>
    Overwritten,
}
