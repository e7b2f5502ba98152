using System.Globalization;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Records with an assigned id, newest first by time: a hash id → JSON and a sorted set scored by time (ms). Members
/// are ids zero-padded to 19 digits, so that records of the same millisecond order by id, as Redis orders equal
/// scores by member. The audit trail and the trace log share it.
/// </summary>
internal sealed class RedisTimeIndex(RedisKey sequence, RedisKey records, RedisKey byTime)
{
    /// <summary>Records removed per round trip by <see cref="RemoveBeforeAsync"/>.</summary>
    private const int RemoveBatch = 1000;

    public RedisKey ByTime => byTime;

    public static string Member(long id) => id.ToString("D19", CultureInfo.InvariantCulture);

    public async Task<long> NextIdAsync(IDatabase db) => await db.StringIncrementAsync(sequence);

    public Task AddAsync(IDatabaseAsync db, long id, DateTimeOffset at, string json)
    {
        var member = Member(id);
        return Task.WhenAll(db.HashSetAsync(records, member, json), db.SortedSetAddAsync(byTime, member, at.ToUnixTimeMilliseconds()));
    }

    /// <summary>Members with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/>, newest first, skipping and taking.</summary>
    public Task<RedisValue[]> RangeAsync(IDatabase db, RedisKey index, DateTimeOffset from, DateTimeOffset to, long skip, long take) =>
        db.SortedSetRangeByScoreAsync(index, from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds(), Exclude.Stop, Order.Descending, skip, take);

    public async Task<string[]> GetAsync(IDatabase db, RedisValue[] members)
    {
        if (members.Length == 0)
        {
            return [];
        }

        var values = await db.HashGetAsync(records, members);
        return [.. values.Where(v => !v.IsNull).Select(v => (string)v!)];
    }

    /// <summary>Removes records older than the cutoff, in bounded batches; <paramref name="alsoFrom"/> names further indexes a record is in.</summary>
    public async Task<int> RemoveBeforeAsync(IDatabase db, DateTimeOffset cutoff, Func<string, IEnumerable<RedisKey>>? alsoFrom, CancellationToken cancellationToken)
    {
        var removed = 0;
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var members = await db.SortedSetRangeByScoreAsync(byTime, double.NegativeInfinity, cutoffMs, Exclude.Stop, Order.Ascending, 0, RemoveBatch);
            if (members.Length == 0)
            {
                return removed;
            }

            if (alsoFrom is not null)
            {
                var values = await db.HashGetAsync(records, members);
                for (var i = 0; i < members.Length; i++)
                {
                    if (!values[i].IsNull)
                    {
                        foreach (var index in alsoFrom(values[i]!))
                        {
                            await db.SortedSetRemoveAsync(index, members[i]);
                        }
                    }
                }
            }

            await db.HashDeleteAsync(records, members);
            removed += (int)await db.SortedSetRemoveAsync(byTime, members);
        }
    }
}
