using System.Diagnostics;

namespace Sluice.Generations;

/// <summary>
/// The time and the cancellation a running contract validation answers to. JsonSchema.Net evaluates
/// synchronously on the caller's thread, so the budget travels in a thread-static slot that the keyword
/// handlers which can be slow (the regex ones) check before each match.
/// </summary>
internal sealed class ContractBudget
{
    [ThreadStatic]
    private static ContractBudget? t_current;

    private readonly long _deadline;
    private readonly CancellationToken _cancel;

    private ContractBudget(TimeSpan budget, CancellationToken cancel)
    {
        _deadline = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        _cancel = cancel;
    }

    public static Scope Enter(TimeSpan budget, CancellationToken cancel)
    {
        var previous = t_current;
        t_current = new ContractBudget(budget, cancel);
        return new Scope(previous);
    }

    /// <summary>Throws when the running validation was cancelled or is past its time budget.</summary>
    public static void ThrowIfSpent()
    {
        if (t_current is not { } budget)
        {
            return;
        }

        budget._cancel.ThrowIfCancellationRequested();
        if (Stopwatch.GetTimestamp() > budget._deadline)
        {
            throw new ContractBudgetExceededException();
        }
    }

    public readonly struct Scope(ContractBudget? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}

/// <summary>A validation ran past its time budget (a regex match timed out, or the whole evaluation did).</summary>
internal sealed class ContractBudgetExceededException : Exception
{
    public ContractBudgetExceededException()
        : base("The response contract's validation ran past its time budget.")
    {
    }
}
