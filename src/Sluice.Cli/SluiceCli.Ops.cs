using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;

namespace Sluice.Cli;

/// <summary><c>sluice ops ...</c>: API.md section 6 from a terminal, for the on-call engineer without curl at hand.</summary>
public static partial class SluiceCli
{
    private delegate Task<int> Caller(ParseResult result, CancellationToken cancellationToken, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> request);

    private static Command OpsCommand(Caller call)
    {
        var ops = new Command("ops", "The operations API (role admin): provider health, kill-switch, traces, metrics summary, audit, rollbacks.");

        var providers = new Command("providers", "Provider health: state, circuit, success rate, p95 time to first token, kill-switch expiry.");
        providers.SetAction((r, ct) => call(r, ct, (c, t) => c.GetAsync("/v1/ops/llm/providers/health?verbose=true", t)));
        ops.Subcommands.Add(providers);

        var provider = new Argument<string>("provider") { Description = "The provider's name, as in providers." };
        var disable = new Option<bool>("--disable") { Description = "Lift the switch instead of setting it." };
        var reason = new Option<string?>("--reason") { Description = "Why: kept in the audit trail." };
        var seconds = new Option<int>("--seconds") { Description = "How long the switch holds before it expires by itself.", DefaultValueFactory = _ => 900 };
        var killKey = IdempotencyKeyOption();
        var kill = new Command("kill-switch", "Switch a provider off for a while: its traffic moves to the fallback chain.") { provider, disable, reason, seconds, killKey };
        kill.SetAction((r, ct) => call(r, ct, (c, t) => PostAsync(c, "/v1/ops/llm/providers/" + Uri.EscapeDataString(r.GetValue(provider)!) + "/kill-switch", r.GetValue(killKey)!, null,
            r.GetValue(disable)
                ? new { action = "disable", reason = r.GetValue(reason), effective_seconds = (int?)null }
                : new { action = "enable", reason = r.GetValue(reason), effective_seconds = (int?)r.GetValue(seconds) }, t)));
        ops.Subcommands.Add(kill);

        var keyword = new Option<string?>("--keyword") { Description = "A kind (sse_resume_failed, provider_timeout, ...), a trace id or a generation id." };
        var from = new Option<DateTimeOffset?>("--from") { Description = "ISO 8601 start (default: 30 days ago)." };
        var to = new Option<DateTimeOffset?>("--to") { Description = "ISO 8601 end (default: now)." };
        var page = new Option<int?>("--page") { Description = "Page, from 0." };
        var size = new Option<int?>("--size") { Description = "Items per page (1 to 1000)." };
        var tracesTenant = TenantOption();
        var traces = new Command("traces", "Search recorded trace events, newest first.") { keyword, from, to, page, size, tracesTenant };
        traces.SetAction((r, ct) => call(r, ct, (c, t) => GetAsync(c, "/v1/ops/traces" + Query(("keyword", r.GetValue(keyword)), ("from", Iso(r.GetValue(from))), ("to", Iso(r.GetValue(to))),
            ("page", Number(r.GetValue(page))), ("size", Number(r.GetValue(size)))), r.GetValue(tracesTenant), t)));
        ops.Subcommands.Add(traces);

        var limit = new Option<int?>("--limit") { Description = "Rows (1 to 1000, default 100)." };
        var summaryTenant = TenantOption();
        var summary = new Command("summary", "Hourly rows by tenant and channel: requests, errors, SSE, resumes, p95s, tokens.") { limit, summaryTenant };
        summary.SetAction((r, ct) => call(r, ct, (c, t) => GetAsync(c, "/v1/ops/metrics/summary" + Query(("limit", Number(r.GetValue(limit)))), r.GetValue(summaryTenant), t)));
        ops.Subcommands.Add(summary);

        var auditFrom = new Option<DateTimeOffset?>("--from") { Description = "ISO 8601 start." };
        var auditTo = new Option<DateTimeOffset?>("--to") { Description = "ISO 8601 end." };
        var auditPage = new Option<int?>("--page") { Description = "Page, from 0." };
        var auditSize = new Option<int?>("--size") { Description = "Entries per page." };
        var audit = new Command("audit", "Who did what, when, why, with which trace id, before and after.") { auditFrom, auditTo, auditPage, auditSize };
        audit.SetAction((r, ct) => call(r, ct, (c, t) => c.GetAsync("/v1/ops/audit" + Query(("from", Iso(r.GetValue(auditFrom))), ("to", Iso(r.GetValue(auditTo))),
            ("page", Number(r.GetValue(auditPage))), ("size", Number(r.GetValue(auditSize)))), t)));
        ops.Subcommands.Add(audit);

        var prompt = new Option<string>("--prompt") { Description = "The prompt id.", Required = true };
        var version = new Option<int>("--to-version") { Description = "The version to make active.", Required = true };
        var rollbackReason = new Option<string?>("--reason") { Description = "Why: kept in the audit trail." };
        var rollbackTenant = TenantOption();
        var rollbackKey = IdempotencyKeyOption();
        var rollback = new Command("rollback", "Make an earlier prompt version the active one for new generations.") { prompt, version, rollbackReason, rollbackTenant, rollbackKey };
        rollback.SetAction((r, ct) => call(r, ct, (c, t) => PostAsync(c, "/v1/ops/rollbacks", r.GetValue(rollbackKey)!, r.GetValue(rollbackTenant),
            new { target_type = "prompt", target_id = r.GetValue(prompt), to_version = r.GetValue(version), reason = r.GetValue(rollbackReason) }, t)));
        ops.Subcommands.Add(rollback);
        return ops;
    }

    private static Option<string?> TenantOption() => new("--tenant") { Description = "Act on this tenant (sent as X-Tenant-Key)." };

    private static Option<string> IdempotencyKeyOption() => new("--idempotency-key")
    {
        // A fresh key per invocation; pass the same one to retry a call safely (it replays instead of acting twice).
        Description = "Idempotency-Key of the call (default: a new one). Repeat it to retry without a second effect.",
        DefaultValueFactory = _ => "cli-" + Guid.NewGuid().ToString("N"),
    };

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? tenant, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Key", tenant);
        }

        return await client.SendAsync(request, cancellationToken);
    }

    private static async Task<HttpResponseMessage> PostAsync<T>(HttpClient client, string path, string idempotencyKey, string? tenant, T body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Key", tenant);
        }

        return await client.SendAsync(request, cancellationToken);
    }

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var parts = parameters.Where(p => p.Value is not null).Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value!)).ToList();
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    private static string? Iso(DateTimeOffset? value) => value?.ToString("O", CultureInfo.InvariantCulture);

    private static string? Number(int? value) => value?.ToString(CultureInfo.InvariantCulture);
}
