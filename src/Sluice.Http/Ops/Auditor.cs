using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sluice.Audit;
using Sluice.Http.Auth;
using Sluice.Http.Diagnostics;

namespace Sluice.Http.Ops;

/// <summary>Records an operator action with who, when, why, the request's trace id and the state before and after.</summary>
internal sealed class Auditor(IAuditLog log, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The longest <c>reason</c> a lever takes: it is stored on every audit row.</summary>
    public const int MaxReasonLength = 1000;

    public ValueTask<AuditEntry> RecordAsync(HttpContext context, string action, string target, string? reason = null, object? before = null, object? after = null)
    {
        var caller = context.GetCaller();
        var entry = new AuditEntry(0, time.GetUtcNow(), caller.KeyId, caller.Tenant, action, target, reason,
            context.Features.Get<TraceIdFeature>()?.TraceId,
            before is null ? null : JsonSerializer.Serialize(before, Json),
            after is null ? null : JsonSerializer.Serialize(after, Json));
        // Not cancellable: an action that took effect is recorded even if its caller went away.
        return log.AppendAsync(entry, CancellationToken.None);
    }
}
