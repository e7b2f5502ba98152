using System.Text.Json;
using Json.Schema;

namespace Sluice.Generations;

/// <summary>
/// <c>response_contract</c>: a JSON Schema the whole output must satisfy (JsonSchema.Net, draft 2020-12 by
/// default). The output is held back until it ends, so no token of an output that fails reaches a client.
/// </summary>
public sealed class ResponseContract
{
    private readonly JsonSchema _schema;

    private ResponseContract(JsonSchema schema, string schemaJson)
    {
        _schema = schema;
        SchemaJson = schemaJson;
    }

    public string SchemaJson { get; }

    /// <summary>Builds the schema; false with the reason when it is not a valid JSON Schema.</summary>
    public static bool TryCreate(JsonElement schema, out ResponseContract? contract, out string? error)
    {
        contract = null;
        error = null;
        try
        {
            // A registry per contract: a tenant's $id must not collide with another request's in the global one.
            // Cloned: the schema outlives the request's JsonDocument, and JsonSchema.Net keeps the elements.
            schema = schema.Clone();
            var built = JsonSchema.Build(schema, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            contract = new ResponseContract(built, schema.GetRawText());
            return true;
        }
        catch (Exception ex) when (ex is JsonSchemaException or ArgumentException or JsonException or InvalidOperationException or RefResolutionException)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>True when <paramref name="output"/> is JSON that satisfies the schema.</summary>
    public bool IsSatisfiedBy(string output, out string? reason)
    {
        reason = null;
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
        {
            var result = _schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag });
            if (!result.IsValid)
            {
                reason = "the output does not satisfy the schema";
            }

            return result.IsValid;
        }
    }
}
