using Sluice.Errors;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Generations;

/// <summary>Creates, reads and cancels generations (API.md section 4); the HTTP layer only parses and answers.</summary>
internal sealed partial class GenerationService
{
    private readonly IGenerationStore _store;
    private readonly IPromptStore _prompts;
    private readonly IModelCatalog _catalog;
    private readonly GenerationRunner _runner;
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;

    private readonly Cluster.IControlBus _bus;

    public GenerationService(IGenerationStore store, IPromptStore prompts, IModelCatalog catalog, GenerationRunner runner, IOptionsMonitor<SluiceOptions> options, TimeProvider time,
        Cluster.IControlBus? bus = null)
    {
        _bus = bus ?? new Cluster.LocalControlBus();
        _store = store;
        _prompts = prompts;
        _catalog = catalog;
        _runner = runner;
        _options = options;
        _time = time;
    }

    public IModelCatalog Catalog => _catalog;

    public async Task<CreateOutcome> CreateAsync(string tenant, GenerationRequest request, string? idempotencyKey, string requestHash, string? traceId, CancellationToken cancellationToken)
    {
        var o = _options.CurrentValue.Generations;
        int? promptVersion = null;
        if (request.Prompt is { } reference)
        {
            var resolved = await ResolvePromptAsync(tenant, reference, request, cancellationToken);
            if (resolved.Error is { } error)
            {
                return error;
            }

            request = resolved.Request!;
            promptVersion = resolved.Version;
        }

        if (string.IsNullOrEmpty(request.Model) || !_catalog.TryResolve(request.Model, out var route))
        {
            return CreateOutcome.Invalid(ErrorCodes.UnknownModel, $"The model '{request.Model}' is not configured; GET /v1/models lists the models this tenant may use.");
        }

        if (request.Simulate is not null && route.Chain.Any(t => !t.IsSimulated))
        {
            return CreateOutcome.Invalid(ErrorCodes.SimulateNotSupported, "'simulate' shapes runs of the simulated provider only; the model's chain includes another provider.");
        }

        var promptChars = 0L;
        foreach (var message in request.Messages)
        {
            promptChars += message.Text.Length;
        }

        if (promptChars > o.MaxPromptChars)
        {
            return CreateOutcome.Invalid(ErrorCodes.PromptTooLong, $"The messages have {promptChars} characters; at most {o.MaxPromptChars} are accepted (Sluice:Generations:MaxPromptChars).");
        }

        if (request.MaxTokens is { } max && max > o.MaxOutputTokens)
        {
            return CreateOutcome.Invalid(ErrorCodes.InvalidRequest, $"max_tokens must be at most {o.MaxOutputTokens}.");
        }

        var (admission, lease) = _runner.TryAdmit(tenant);
        switch (admission)
        {
            case GenerationRunner.Admission.NodeFull:
                return CreateOutcome.Busy();
            case GenerationRunner.Admission.TenantFull:
                return new CreateOutcome(CreateKind.QuotaExceeded, null, "quota_exceeded",
                    "This tenant has as many queued and running generations as it may (Sluice:Limits:MaxGenerationsPerTenant); retry after the delay.");
        }

        var admitted = _time.GetTimestamp();
        var now = _time.GetUtcNow();
        var record = new GenerationRecord
        {
            Id = GenerationIds.New(),
            Tenant = tenant,
            Status = GenerationStatus.Queued,
            Model = request.Model,
            TraceId = traceId,
            Channel = request.Channel,
            PromptId = request.Prompt?.Id,
            PromptVersion = promptVersion,
            CreatedAt = now,
        };
        var claim = idempotencyKey is null ? null : new IdempotencyClaim(idempotencyKey, requestHash, now - o.IdempotencyWindow);
        GenerationCreateResult created;
        GenerationLease? owned = null;
        try
        {
            owned = await _runner.ClaimAsync(record.StreamKey, cancellationToken)
                ?? throw new InvalidOperationException("A new generation's lease was held already.");
            created = await _store.CreateAsync(record, claim, cancellationToken);
        }
        catch
        {
            if (owned is not null)
            {
                _runner.Unclaim(owned);
            }

            lease?.Dispose();
            throw;
        }

        if (!created.Created)
        {
            _runner.Unclaim(owned);
            lease?.Dispose();
            return created.ExistingRequestHash == requestHash
                ? new CreateOutcome(CreateKind.Existing, created.Record, null, null)
                : CreateOutcome.Invalid(ErrorCodes.IdempotencyKeyReused, "This Idempotency-Key was used with another request body in the last 24 h.", CreateKind.Conflict);
        }

        _runner.Enqueue(new GenerationJob(record, request, route, admitted)
        {
            Admission = lease,
            Lease = owned,
            TraceParent = System.Diagnostics.Activity.Current?.Context ?? default,
        });
        return new CreateOutcome(CreateKind.Created, record, null, null);
    }

    /// <summary>The record, with this node's live view of a queued or running one.</summary>
    public async Task<GenerationRecord?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (_runner.Find(id) is { } job && job.Record.Tenant == tenant)
        {
            return job.Record;
        }

        return await _store.GetAsync(tenant, id, cancellationToken);
    }

    public ValueTask<IReadOnlyList<GenerationRecord>> ListAsync(string tenant, GenerationStatus? status, int limit, CancellationToken cancellationToken) =>
        _store.ListAsync(tenant, status, limit, cancellationToken);

    /// <summary>The finished record; waits for this node's run, or reads the store for one that already ended.</summary>
    public async Task<GenerationRecord?> WaitAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        if (_runner.Find(id) is { } job && job.Record.Tenant == tenant)
        {
            return await job.Finished.Task.WaitAsync(cancellationToken);
        }

        return await _store.GetAsync(tenant, id, cancellationToken);
    }

    public async Task<CancelOutcome> CancelAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        var record = await GetAsync(tenant, id, cancellationToken);
        if (record is null)
        {
            return CancelOutcome.NotFound;
        }

        if (record.Status.IsFinished())
        {
            return CancelOutcome.AlreadyFinished;
        }

        if (await _runner.CancelAsync(id))
        {
            return CancelOutcome.Accepted;
        }

        if (_bus.Shared)
        {
            // Another node runs it: its owner cancels it when the change reaches it (within 2 s, API.md section 9).
            await _bus.PublishAsync(Cluster.ControlKinds.Cancel, tenant + "/" + id, cancellationToken);
            return CancelOutcome.Accepted;
        }

        return CancelOutcome.AlreadyFinished;
    }

    private async Task<(GenerationRequest? Request, int Version, CreateOutcome? Error)> ResolvePromptAsync(
        string tenant, PromptReference reference, GenerationRequest request, CancellationToken cancellationToken)
    {
        var prompt = await _prompts.GetAsync(tenant, reference.Id, cancellationToken);
        if (prompt is null)
        {
            return (null, 0, CreateOutcome.Invalid(ErrorCodes.UnknownPrompt, $"The prompt '{reference.Id}' does not exist."));
        }

        var number = reference.Version ?? prompt.ActiveVersion;
        if (number is null)
        {
            return (null, 0, CreateOutcome.Invalid(ErrorCodes.UnknownPromptVersion, $"The prompt '{reference.Id}' has no approved version; name one with prompt.version."));
        }

        var version = prompt.Versions.FirstOrDefault(v => v.Version == number);
        if (version is null)
        {
            return (null, 0, CreateOutcome.Invalid(ErrorCodes.UnknownPromptVersion, $"The prompt '{reference.Id}' has no version {number}."));
        }

        var text = Expand(version.Template, reference.Variables, _options.CurrentValue.Generations.MaxPromptChars, out var failure);
        if (text is null)
        {
            return (null, 0, failure);
        }

        int? maxTokens = request.MaxTokens;
        float? temperature = request.Temperature;
        if (version.ParamsJson is { } json)
        {
            using var doc = JsonDocument.Parse(json);
            if (maxTokens is null && doc.RootElement.TryGetProperty("max_tokens", out var mt) && mt.TryGetInt32(out var m))
            {
                maxTokens = m;
            }

            if (temperature is null && doc.RootElement.TryGetProperty("temperature", out var t) && t.TryGetSingle(out var f))
            {
                temperature = f;
            }
        }

        var resolved = request with
        {
            Model = string.IsNullOrEmpty(request.Model) ? version.Model : request.Model,
            Messages = [new ChatMessage(ChatRole.User, text)],
            MaxTokens = maxTokens,
            Temperature = temperature,
        };
        return (resolved, version.Version, null);
    }

    /// <summary>
    /// The template with its variables substituted, built no longer than <paramref name="limit"/>: a short request
    /// that names one large variable many times must be refused before it is built, not after.
    /// </summary>
    private static string? Expand(string template, IReadOnlyDictionary<string, string> variables, int limit, out CreateOutcome? failure)
    {
        failure = null;
        var text = new StringBuilder(Math.Min(template.Length, limit));
        var last = 0;
        for (var match = Placeholder().Match(template); match.Success; match = match.NextMatch())
        {
            if (!variables.TryGetValue(match.Groups[1].Value, out var value))
            {
                failure = CreateOutcome.Invalid(ErrorCodes.MissingPromptVariable, $"The prompt's template needs the variable '{match.Groups[1].Value}'.");
                return null;
            }

            if (!Append(text, template.AsSpan(last, match.Index - last), limit) || !Append(text, value, limit))
            {
                failure = TooLong(limit);
                return null;
            }

            last = match.Index + match.Length;
        }

        if (!Append(text, template.AsSpan(last), limit))
        {
            failure = TooLong(limit);
            return null;
        }

        return text.ToString();

        static bool Append(StringBuilder text, ReadOnlySpan<char> piece, int limit)
        {
            if (text.Length + (long)piece.Length > limit)
            {
                return false;
            }

            text.Append(piece);
            return true;
        }

        static CreateOutcome TooLong(int limit) => CreateOutcome.Invalid(
            ErrorCodes.PromptTooLong, $"The prompt's template with its variables is longer than {limit} characters (Sluice:Generations:MaxPromptChars).");
    }

    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Placeholder();
}

internal enum CreateKind
{
    Created,
    Existing,
    Invalid,
    Conflict,
    Busy,
    QuotaExceeded,
}

internal readonly record struct CreateOutcome(CreateKind Kind, GenerationRecord? Record, string? Code, string? Message)
{
    public static CreateOutcome Invalid(string code, string message, CreateKind kind = CreateKind.Invalid) => new(kind, null, code, message);

    public static CreateOutcome Busy() => new(CreateKind.Busy, null, "overloaded", "This node runs and queues as many generations as it may; retry after the delay.");
}

internal enum CancelOutcome
{
    Accepted,
    NotFound,
    AlreadyFinished,
}
