using System.Text.Json;
using Json.Schema;
using Json.Schema.Keywords;

namespace Sluice.Generations;

/// <summary>
/// <c>response_contract</c>: a JSON Schema the whole output must satisfy (JsonSchema.Net, draft 2020-12 by
/// default). The output is held back until it ends, so no token of an output that fails reaches a client.
/// Every regex a tenant's schema reaches runs with a match timeout, and a validation as a whole within a
/// time budget and the generation's cancellation (see <see cref="IsSatisfiedBy"/>).
/// </summary>
internal sealed class ResponseContract
{
    /// <summary>The most regexes (<c>pattern</c> values and <c>patternProperties</c> names) one schema may hold.</summary>
    public const int MaxPatterns = 64;

    /// <summary>The longest <c>pattern</c> (or <c>patternProperties</c> name), in characters.</summary>
    public const int MaxPatternLength = 1024;

    // The official dialects with the regex keywords swapped for guarded ones, under the official ids, so that
    // a "$schema" naming any of them still lands on a guarded dialect (a local registry is read before the
    // global one). The stock handlers stay in the list: other keywords declare their evaluation order against
    // the stock types, and the name lookup that building uses resolves to the handler added last.
    private static readonly (Uri Id, Dialect Dialect)[] SafeDialects =
    [
        (MetaSchemas.Draft6Id, Guarded(Dialect.Draft06)),
        (MetaSchemas.Draft7Id, Guarded(Dialect.Draft07)),
        (MetaSchemas.Draft201909Id, Guarded(Dialect.Draft201909)),
        (MetaSchemas.Draft202012Id, Guarded(Dialect.Draft202012)),
        (MetaSchemas.V1_2026Id, Guarded(Dialect.V1_2026)),
        (MetaSchemas.V1Id, Guarded(Dialect.V1)),
    ];

    private static readonly Dialect DefaultDialect = SafeDialects.First(d => d.Id == MetaSchemas.V1Id).Dialect;

    private static readonly DialectRegistry SafeRegistry = CreateRegistry();

    private readonly JsonSchema _schema;

    private ResponseContract(JsonSchema schema, string schemaJson)
    {
        _schema = schema;
        SchemaJson = schemaJson;
    }

    public string SchemaJson { get; }

    /// <summary>Builds the schema; false with the reason when it is not a valid JSON Schema or cannot run safely.</summary>
    public static bool TryCreate(JsonElement schema, out ResponseContract? contract, out string? error)
    {
        contract = null;
        if (!CheckBounds(schema, out error))
        {
            return false;
        }

        try
        {
            // A registry per contract: a tenant's $id must not collide with another request's in the global one.
            // Cloned: the schema outlives the request's JsonDocument, and JsonSchema.Net keeps the elements.
            schema = schema.Clone();
            var built = JsonSchema.Build(schema, new BuildOptions
            {
                SchemaRegistry = new SchemaRegistry(),
                DialectRegistry = SafeRegistry,
                Dialect = DefaultDialect,
            });
            contract = new ResponseContract(built, schema.GetRawText());
            return true;
        }
        catch (Exception ex) when (ex is JsonSchemaException or ArgumentException or JsonException or InvalidOperationException or RefResolutionException)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>
    /// True when <paramref name="output"/> is JSON that satisfies the schema. A validation that runs past
    /// <paramref name="budget"/> fails the contract (its reason says so); <paramref name="cancel"/> stops a running
    /// one with <see cref="OperationCanceledException"/>.
    /// </summary>
    public bool IsSatisfiedBy(string output, TimeSpan budget, CancellationToken cancel, out string? reason)
    {
        reason = null;
        cancel.ThrowIfCancellationRequested();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(output);
        }
        catch (JsonException)
        {
            reason = "the output is not JSON";
            return false;
        }

        using (document)
        using (ContractBudget.Enter(budget, cancel))
        {
            try
            {
                var result = _schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag });
                if (!result.IsValid)
                {
                    reason = "the output does not satisfy the schema";
                }

                return result.IsValid;
            }
            catch (ContractBudgetExceededException)
            {
                reason = "the validation ran past its time budget of " + budget.TotalMilliseconds + " ms";
                return false;
            }
        }
    }

    private static bool CheckBounds(JsonElement schema, out string? error)
    {
        var patterns = 0;
        error = null;
        return Walk(schema, ref patterns, ref error);

        static bool Walk(JsonElement element, ref int patterns, ref string? error)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        if (!Walk(item, ref patterns, ref error))
                        {
                            return false;
                        }
                    }

                    return true;
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (!CheckKeyword(property, ref patterns, ref error) || !Walk(property.Value, ref patterns, ref error))
                        {
                            return false;
                        }
                    }

                    return true;
                default:
                    return true;
            }
        }

        static bool CheckKeyword(JsonProperty property, ref int patterns, ref string? error)
        {
            switch (property.Name)
            {
                case "pattern" when property.Value.ValueKind == JsonValueKind.String:
                    return CountPattern(property.Value.GetString()!, ref patterns, ref error);
                case "patternProperties" when property.Value.ValueKind == JsonValueKind.Object:
                    foreach (var p in property.Value.EnumerateObject())
                    {
                        if (!CountPattern(p.Name, ref patterns, ref error))
                        {
                            return false;
                        }
                    }

                    return true;
                case "$schema" when property.Value.ValueKind == JsonValueKind.String:
                    // Only the dialects whose regex keywords are guarded: another meta-schema would bring the stock ones.
                    var id = property.Value.GetString();
                    if (!SafeDialects.Any(d => d.Id.OriginalString == id || d.Id.OriginalString.TrimEnd('#') == id))
                    {
                        error = "$schema must name one of the supported dialects (draft-06, draft-07, 2019-09, 2020-12, v1).";
                        return false;
                    }

                    return true;
                case "$vocabulary":
                    error = "$vocabulary (a custom meta-schema) is not supported in a response contract.";
                    return false;
                default:
                    return true;
            }
        }

        static bool CountPattern(string pattern, ref int patterns, ref string? error)
        {
            if (++patterns > MaxPatterns)
            {
                error = $"a response contract may hold at most {MaxPatterns} patterns (pattern and patternProperties).";
                return false;
            }

            if (pattern.Length > MaxPatternLength)
            {
                error = $"a pattern may be at most {MaxPatternLength} characters long.";
                return false;
            }

            return true;
        }
    }

    private static Dialect Guarded(Dialect dialect) =>
        dialect.With([SafePatternKeyword.Shared, SafePatternPropertiesKeyword.Shared], dialect.Id);

    private static DialectRegistry CreateRegistry()
    {
        var registry = new DialectRegistry();
        foreach (var (id, dialect) in SafeDialects)
        {
            registry.Register(dialect.Id == id ? dialect : dialect.With([], id));
        }

        return registry;
    }
}
