using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Sluice.Client;

/// <summary>
/// Reads Sluice streams over <see cref="HttpClient"/> (its <see cref="HttpClient.BaseAddress"/> is Sluice's, its
/// default headers carry the key). Every event reaches the caller once and in order across reconnects: the client
/// tracks the last id itself, resumes with <c>Last-Event-ID</c>, and drops anything at or below it.
/// </summary>
public sealed partial class SluiceClient
{
    private static readonly HashSet<string> NoticeCodes = new(StringComparer.Ordinal) { "history_truncated", "event_id_ahead", "credential_expired", "credential_revoked", "store_lost_events" };

    private readonly HttpClient _http;
    private readonly SluiceClientOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly ConnectionStats _stats;

    /// <summary>A client on <paramref name="http"/>; <paramref name="time"/> is the clock (a fake one in tests).</summary>
    public SluiceClient(HttpClient http, SluiceClientOptions? options = null, TimeProvider? time = null)
        : this(http, options, time, Random.Shared.NextDouble)
    {
    }

    internal SluiceClient(HttpClient http, SluiceClientOptions? options, TimeProvider? time, Func<double> random)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _options = options ?? new SluiceClientOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _random = random;
        _stats = new ConnectionStats(_time);
    }

    /// <summary>Reconnects since this client was made (across all its streams).</summary>
    public long Reconnects => _stats.Snapshot().Reconnects;

    /// <summary>How this client's connections are doing now: reconnects, silent connections, last event age, quality.</summary>
    public SluiceConnectionStats GetConnectionStats() => _stats.Snapshot();

    /// <summary>The wait before retry number <paramref name="retry"/> (1-based): the backoff step ±jitter, never below <paramref name="atLeast"/>.</summary>
    public static TimeSpan BackoffDelay(SluiceClientOptions options, int retry, double random, TimeSpan atLeast = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var step = options.Backoff[Math.Clamp(retry, 1, options.Backoff.Count) - 1];
        var jittered = TimeSpan.FromMilliseconds(Math.Round(step.TotalMilliseconds * (1 - options.Jitter + (2 * options.Jitter * random))));
        return jittered < atLeast ? atLeast : jittered;
    }

    /// <summary>The events of a generation (<c>GET /v1/generations/{id}/events</c>), from after <paramref name="lastEventId"/>.</summary>
    public IAsyncEnumerable<SluiceEvent> StreamGenerationAsync(string generationId, long lastEventId = 0, Func<CancellationToken, ValueTask<string?>>? refresh = null, CancellationToken cancellationToken = default) =>
        StreamAsync($"/v1/generations/{Uri.EscapeDataString(generationId)}/events", lastEventId, refresh, cancellationToken);

    /// <summary>The events of a stream (<c>GET /v1/streams/{id}/events</c>), from after <paramref name="lastEventId"/>.</summary>
    public IAsyncEnumerable<SluiceEvent> StreamEventsAsync(string streamId, long lastEventId = 0, Func<CancellationToken, ValueTask<string?>>? refresh = null, CancellationToken cancellationToken = default) =>
        StreamAsync($"/v1/streams/{Uri.EscapeDataString(streamId)}/events", lastEventId, refresh, cancellationToken);

    /// <summary>
    /// The events at <paramref name="path"/> (an events path, or an <c>events_url</c> with its <c>access_token</c>). Ends
    /// after a terminal event or on <c>204</c>. <paramref name="refresh"/>, if given, is asked once for a fresh events URL
    /// (from <c>POST /v1/generations/{id}/tokens</c> or <c>/v1/streams/{id}/tokens</c>, e.g.
    /// <see cref="CreateGenerationTokenAsync"/>) after a <c>401</c> or a <c>credential_expired</c>/<c>credential_revoked</c>
    /// end; null gives up. A <c>403</c> is not retried: the credential is valid but not for this stream.
    /// </summary>
    public async IAsyncEnumerable<SluiceEvent> StreamAsync(string path, long lastEventId = 0, Func<CancellationToken, ValueTask<string?>>? refresh = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var last = lastEventId;
        var failed = 0;
        var refreshed = false;
        var first = true;
        _stats.Started();
        try
        {
            while (true)
            {
                if (!first)
                {
                    _stats.Reconnected();
                }

                first = false;
                var attempt = await ConnectAsync(path, last, cancellationToken).ConfigureAwait(false);
                if (attempt.Response is not { } response)
                {
                    failed = await FailAsync(failed, attempt.Cause!, null, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var status = (int)response.StatusCode;
                if (status == 204)
                {
                    response.Dispose();
                    yield break;
                }

                if (status == 401 && refresh is not null && !refreshed)
                {
                    response.Dispose();
                    refreshed = true;
                    path = await refresh(cancellationToken).ConfigureAwait(false)
                        ?? throw new SluiceStreamException("Sluice answered 401 and no fresh events URL came.", status);
                    continue;
                }

                if (status is 400 or 401 or 403 or 404 or 410)
                {
                    var detail = await DescribeAsync(response, cancellationToken).ConfigureAwait(false);
                    throw new SluiceStreamException($"Sluice answered {status}{detail}.", status);
                }

                if (status != 200)
                {
                    var retryAfter = RetryAfter(response);
                    response.Dispose();
                    failed = await FailAsync(failed, new HttpRequestException($"Sluice answered {status}.", null, response.StatusCode), status, retryAfter, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                failed = 0;
                _stats.Opened();
                var end = End.Dropped;
                TimeSpan? serverRetry = null;
                using (response)
                {
                    var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        var parser = SseParser.Create(body);
                        using var watchdog = new CancellationTokenSource(_options.HeartbeatTimeout, _time);
                        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
                        var items = parser.EnumerateAsync(linked.Token).GetAsyncEnumerator(linked.Token);
                        await using (items.ConfigureAwait(false))
                        {
                            while (true)
                            {
                                var next = await NextAsync(items, cancellationToken).ConfigureAwait(false);
                                if (next != Next.Item)
                                {
                                    // A clean end (drain, broadcast, shutdown) comes back after the server's retry:; a cut
                                    // or a silent connection comes back at once (a failing reconnect then backs off).
                                    end = next == Next.EndOfBody ? End.Clean : End.Dropped;
                                    if (next == Next.Dropped && watchdog.IsCancellationRequested)
                                    {
                                        _stats.WentSilent();
                                    }

                                    break;
                                }

                                watchdog.CancelAfter(_options.HeartbeatTimeout);
                                _stats.Received();
                                var item = items.Current;
                                serverRetry = item.ReconnectionInterval ?? serverRetry;
                                if (item.EventType == "heartbeat")
                                {
                                    continue;
                                }

                                var parsed = Parse(item);
                                if (parsed is null)
                                {
                                    continue;
                                }

                                if (parsed is ErrorEvent { Id: null, Code: "credential_expired" or "credential_revoked" } credentialEnd)
                                {
                                    if (refresh is null || refreshed)
                                    {
                                        throw new SluiceStreamException($"The stream's credential ended ({credentialEnd.Code}).", null);
                                    }

                                    refreshed = true;
                                    path = await refresh(cancellationToken).ConfigureAwait(false)
                                        ?? throw new SluiceStreamException($"The stream's credential ended ({credentialEnd.Code}) and no fresh events URL came.", null);
                                    end = End.Credential;
                                    break;
                                }

                                if (parsed.Id is { } id)
                                {
                                    if (id <= last)
                                    {
                                        continue; // a replay overlapping what the caller has
                                    }

                                    last = id;
                                }

                                yield return parsed;
                                if (parsed.IsTerminal)
                                {
                                    yield break;
                                }
                            }
                        }
                    }
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (end == End.Clean)
                {
                    // The server ended the response (drain, broadcast, shutdown): back after its retry:, not a failure.
                    var wait = serverRetry ?? TimeSpan.FromSeconds(1);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            _stats.Stopped();
        }
    }

    private enum End
    {
        Dropped,
        Clean,
        Credential,
    }

    private enum Next
    {
        Item,
        EndOfBody,
        Dropped,
    }

    /// <summary>The next item, the body's end, or a drop: a cut connection or the watchdog (never the caller's cancellation).</summary>
    private static async ValueTask<Next> NextAsync(IAsyncEnumerator<SseItem<string>> items, CancellationToken cancellationToken)
    {
        try
        {
            return await items.MoveNextAsync().ConfigureAwait(false) ? Next.Item : Next.EndOfBody;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Next.Dropped; // the watchdog: silent for three heartbeats
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return Next.Dropped; // cut mid-response: resume
        }
    }

    private async Task<(HttpResponseMessage? Response, Exception? Cause)> ConnectAsync(string path, long last, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (last > 0)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
        }

        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return (await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, new TimeoutException($"No response headers within {_options.ConnectTimeout.TotalSeconds:0.#} s.", ex));
        }
        catch (HttpRequestException ex)
        {
            return (null, ex);
        }
    }

    /// <summary>Counts a failed connect and waits the backoff; throws when the retries are spent.</summary>
    private async Task<int> FailAsync(int failed, Exception cause, int? status, TimeSpan retryAfter, CancellationToken cancellationToken)
    {
        failed++;
        _stats.Failed(failed);
        if (failed > _options.MaxRetries)
        {
            _stats.Spent();
            throw new SluiceStreamException($"Gave up after {_options.MaxRetries} retries: {cause.Message}", status, cause);
        }

        await Task.Delay(BackoffDelay(_options, failed, _random(), retryAfter), _time, cancellationToken).ConfigureAwait(false);
        return failed;
    }

    private TimeSpan RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } at ? at - _time.GetUtcNow() : TimeSpan.Zero);
        // A proxy's "come back tomorrow" must not freeze the caller: at most five minutes.
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > TimeSpan.FromMinutes(5) ? TimeSpan.FromMinutes(5) : delay;
    }

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using (response)
        {
            try
            {
                using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                var root = problem.RootElement;
                var code = root.TryGetProperty("code", out var c) ? c.GetString() : null;
                var title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
                return code is null && title is null ? "" : $": {title} ({code})";
            }
            catch (JsonException)
            {
                return "";
            }
        }
    }

    /// <summary>A typed event from an SSE item; null for data that is not a JSON object.</summary>
    internal static SluiceEvent? Parse(SseItem<string> item)
    {
        var parsed = Type(item);
        if (parsed is not null)
        {
            parsed.RawData = item.Data;
        }

        return parsed;
    }

    private static SluiceEvent? Type(SseItem<string> item)
    {
        long? id = long.TryParse(item.EventId, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;
        JsonElement data;
        try
        {
            using var document = JsonDocument.Parse(item.Data);
            data = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }

        if (data.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string? Text(string name) => data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        long? Number(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.TryGetInt64(out var x) ? x : null;
        if (item.EventType == "error" && Text("code") is { } code && (id is null || NoticeCodes.Contains(code)))
        {
            return code switch
            {
                "history_truncated" => new HistoryTruncatedEvent(Number(data, "first_available_id") ?? 0),
                "event_id_ahead" => new EventIdAheadEvent(Number(data, "last_id") ?? 0),
                _ => new ErrorEvent(null, code, Text("message"), data.TryGetProperty("retryable", out var r) && r.ValueKind == JsonValueKind.True),
            };
        }

        if (id is not { } eventId)
        {
            return new CustomEvent(null, item.EventType, data);
        }

        return item.EventType switch
        {
            "token" => new TokenEvent(eventId, Text("text") ?? ""),
            "tool" => new ToolEvent(eventId, Text("call_id") ?? "", Text("name") ?? "", data.TryGetProperty("arguments", out var a) ? a : default),
            "citation" => new CitationEvent(eventId, data),
            "done" => new DoneEvent(eventId, Text("finish_reason"), Number(data.TryGetProperty("usage", out var u) ? u : default, "input_tokens"),
                Number(data.TryGetProperty("usage", out var u2) ? u2 : default, "output_tokens"), data),
            "error" => new ErrorEvent(eventId, Text("code") ?? "internal", Text("message"), data.TryGetProperty("retryable", out var r2) && r2.ValueKind == JsonValueKind.True),
            "safe_response" => new SafeResponseEvent(eventId, Text("text") ?? "", Text("reason")),
            _ => new CustomEvent(eventId, item.EventType, data),
        };
    }
}
