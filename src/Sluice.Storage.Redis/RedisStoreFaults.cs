using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>StackExchange.Redis' ways of saying Redis could not be reached in time (not a refused command: that is a bug).</summary>
internal sealed class RedisStoreFaults : IStoreFaults
{
    public bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is RedisConnectionException or RedisTimeoutException || (e is RedisServerException server && IsTransient(server.Message)))
            {
                return true;
            }

            if (e is AggregateException { InnerExceptions.Count: 1 } aggregate)
            {
                return IsUnavailable(aggregate.InnerExceptions[0]);
            }
        }

        return false;
    }

    /// <summary>Replies of a Redis that is up but cannot serve yet: loading its dataset, a replica cut off, or out of memory.</summary>
    internal static bool IsTransient(string message) =>
        message.StartsWith("LOADING", StringComparison.Ordinal) || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("TRYAGAIN", StringComparison.Ordinal) || message.StartsWith("OOM", StringComparison.Ordinal)
        || message.StartsWith("BUSY", StringComparison.Ordinal);
}
