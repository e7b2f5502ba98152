using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Json.Schema.Keywords;

namespace Sluice.Generations;

/// <summary>
/// <c>pattern</c> with a match timeout, checked against the validation's budget. JsonSchema.Net's own handler
/// builds a timeout-less backtracking regex from the tenant's pattern: <c>^(a+)+$</c> against <c>a…a!</c> doubles
/// its time with each character (issue 10 reported 7.7 s at 28; the tests' 36 would be minutes). Interpreted, not compiled: a regex built per request would pay
/// Reflection.Emit per request.
/// </summary>
internal sealed class SafePatternKeyword : PatternKeyword
{
    public static readonly SafePatternKeyword Shared = new();

    public override object? ValidateKeywordValue(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new JsonSchemaException($"'{Name}' value must be a string, found {value.ValueKind}");
        }

        return SafeRegex.Create(value.GetString()!);
    }

    public override KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context) =>
        SafeRegex.Guard(() => base.Evaluate(keyword, context));
}

/// <summary><c>patternProperties</c> with the same guards as <see cref="SafePatternKeyword"/>.</summary>
internal sealed class SafePatternPropertiesKeyword : PatternPropertiesKeyword
{
    public static readonly SafePatternPropertiesKeyword Shared = new();

    public override object? ValidateKeywordValue(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new JsonSchemaException($"'{Name}' value must be an object, found {value.ValueKind}");
        }

        var regexes = new Dictionary<string, Regex>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            if (property.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                throw new JsonSchemaException("Values must be valid schemas");
            }

            regexes[property.Name] = SafeRegex.Create(property.Name);
        }

        return regexes;
    }

    public override KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context) =>
        SafeRegex.Guard(() => base.Evaluate(keyword, context));
}

internal static class SafeRegex
{
    /// <summary>One match never runs longer than this, whatever the budget left.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    public static Regex Create(string pattern)
    {
        // ECMAScript: JSON Schema's patterns are ECMA-262 regular expressions, as JsonSchema.Net reads them.
        return new Regex(pattern, RegexOptions.ECMAScript, MatchTimeout);
    }

    /// <summary>Runs a regex keyword's evaluation within the validation's budget; a match timeout spends it.</summary>
    public static KeywordEvaluation Guard(Func<KeywordEvaluation> evaluate)
    {
        ContractBudget.ThrowIfSpent();
        try
        {
            return evaluate();
        }
        catch (RegexMatchTimeoutException)
        {
            throw new ContractBudgetExceededException();
        }
    }
}
