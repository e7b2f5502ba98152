using System.Text.Json.Serialization;
using Sluice.Audit;
using Sluice.Generations;
using Sluice.Ops;
using Sluice.Resilience;
using Sluice.Tenancy;

namespace Sluice.Storage;

/// <summary>How stores that keep a record as one JSON document (a SQLite column, a Redis value) write it: source-generated, snake_case.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerationRecord))]
[JsonSerializable(typeof(ApiKeyRecord))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(TraceEvent))]
[JsonSerializable(typeof(OpsMetricsRow))]
[JsonSerializable(typeof(KillSwitch))]
[JsonSerializable(typeof(Cluster.NodeInfo))]
[JsonSerializable(typeof(Protection.EmergencyRateLimit))]
[JsonSerializable(typeof(Protection.LimitOverrides))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(Dictionary<string, long>))]
internal sealed partial class StoreJson : JsonSerializerContext;
