namespace Sluice.Testing;

/// <summary>
/// Waits for a condition that another task makes true (a fire-and-forget write, a connection closing), polling
/// rather than sleeping a guessed time; the deadline only turns a hang into a failure, it is not a timing assertion.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static async Task TrueAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    /// <summary>Polls <paramref name="read"/> until it returns a value <paramref name="done"/> accepts, and returns it.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            await Task.Delay(10, timeout.Token);
        }
    }
}
