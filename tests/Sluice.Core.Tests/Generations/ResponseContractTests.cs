using System.Text.Json;
using Sluice.Generations;

namespace Sluice.Core.Tests.Generations;

/// <summary>A tenant's response contract runs its regexes under a match timeout and the validation under a budget.</summary>
public sealed class ResponseContractTests
{
    // 2^36 backtracking steps for a naive engine: hours, not the test's lifetime.
    private static readonly string Catastrophic = JsonSerializer.Serialize(new string('a', 36) + "!");

    private const string SlowButMatching = """{"type":"array","items":{"type":"string","pattern":"^(?:(a+)+b|a+)$"}}""";

    private static ResponseContract Create(string schema)
    {
        Assert.True(ResponseContract.TryCreate(JsonDocument.Parse(schema).RootElement, out var contract, out var error), error);
        return contract!;
    }

    private static string? Refusal(string schema)
    {
        Assert.False(ResponseContract.TryCreate(JsonDocument.Parse(schema).RootElement, out _, out var error));
        return error;
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^(a+)+$"}""")]
    [InlineData("""{"$schema":"http://json-schema.org/draft-07/schema#","type":"string","pattern":"^(a+)+$"}""")]
    [InlineData("""{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string","pattern":"^(a+)+$"}""")]
    [InlineData("""{"$schema":"https://json-schema.org/draft/2019-09/schema","items":{"pattern":"^(a|aa)+$"}}""")]
    public void CatastrophicPattern_FailsTheContractOnItsBudget(string schema)
    {
        var output = schema.Contains("items", StringComparison.Ordinal) ? "[" + Catastrophic + "]" : Catastrophic;

        var satisfied = Create(schema).IsSatisfiedBy(output, TimeSpan.FromSeconds(30), CancellationToken.None, out var reason);

        Assert.False(satisfied);
        Assert.Contains("time budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CatastrophicPatternProperty_FailsTheContractOnItsBudget()
    {
        var contract = Create("""{"type":"object","patternProperties":{"^(a+)+$":{"type":"integer"}}}""");

        var satisfied = contract.IsSatisfiedBy("{" + Catastrophic + ":1}", TimeSpan.FromSeconds(30), CancellationToken.None, out var reason);

        Assert.False(satisfied);
        Assert.Contains("time budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SafePatterns_StillValidate()
    {
        var contract = Create("""{"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z]{3}-\\d+$"}},"patternProperties":{"^x-":{"type":"integer"}}}""");

        Assert.True(contract.IsSatisfiedBy("""{"id":"abc-12","x-n":1}""", TimeSpan.FromSeconds(5), CancellationToken.None, out _));
        Assert.False(contract.IsSatisfiedBy("""{"id":"ABC-12"}""", TimeSpan.FromSeconds(5), CancellationToken.None, out var reason));
        Assert.Equal("the output does not satisfy the schema", reason);
        Assert.False(contract.IsSatisfiedBy("""{"x-n":"one"}""", TimeSpan.FromSeconds(5), CancellationToken.None, out _));
    }

    [Fact]
    public void ManySlowMatches_StopOnTheBudgetEvenWhenNoneTimesOut()
    {
        // Each item matches only after ~2^16 backtracking steps, well inside the per-match timeout; every item
        // matches, so nothing stops the evaluation early, and 20,000 of them do not fit in 1 ms.
        var contract = Create(SlowButMatching);
        var output = JsonSerializer.Serialize(Enumerable.Repeat(new string('a', 16), 20_000));

        var satisfied = contract.IsSatisfiedBy(output, TimeSpan.FromMilliseconds(1), CancellationToken.None, out var reason);

        Assert.False(satisfied);
        Assert.Contains("time budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_StopsARunningValidation()
    {
        var contract = Create(SlowButMatching);
        var output = JsonSerializer.Serialize(Enumerable.Repeat(new string('a', 16), 200_000));
        using var cancel = new CancellationTokenSource();
        cancel.CancelAfter(TimeSpan.FromMilliseconds(50));

        Assert.ThrowsAny<OperationCanceledException>(() => contract.IsSatisfiedBy(output, TimeSpan.FromHours(1), cancel.Token, out _));
    }

    [Fact]
    public void TooManyPatterns_AreRefusedAtCreate()
    {
        var properties = string.Join(",", Enumerable.Range(0, ResponseContract.MaxPatterns + 1).Select(i => $"\"p{i}\":{{\"pattern\":\"^x\"}}"));

        Assert.Contains("at most 64 patterns", Refusal("{\"properties\":{" + properties + "}}"), StringComparison.Ordinal);
    }

    [Fact]
    public void OverlongPattern_IsRefusedAtCreate() =>
        Assert.Contains("at most 1024 characters", Refusal(JsonSerializer.Serialize(new { pattern = new string('a', 1025) })), StringComparison.Ordinal);

    [Theory]
    [InlineData("""{"$schema":"https://example.com/my-meta","pattern":"^(a+)+$"}""", "$schema")]
    [InlineData("""{"$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/validation":true}}""", "$vocabulary")]
    [InlineData("""{"pattern":"(unclosed"}""", "")]
    public void UnguardableSchemas_AreRefusedAtCreate(string schema, string mentions) =>
        Assert.Contains(mentions, Refusal(schema), StringComparison.Ordinal);
}
