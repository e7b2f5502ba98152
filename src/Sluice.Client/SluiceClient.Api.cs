using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sluice.Client;

public sealed partial class SluiceClient
{
    /// <summary>
    /// Starts a generation (<c>POST /v1/generations</c>). With <paramref name="idempotencyKey"/>, the same key and body
    /// within 24 h give the same generation, so a retried call never starts a second one.
    /// </summary>
    public Task<SluiceGeneration> CreateGenerationAsync(SluiceGenerationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendAsync(HttpMethod.Post, "/v1/generations", JsonContent.Create(request, SluiceJsonContext.Default.SluiceGenerationRequest), idempotencyKey,
            SluiceJsonContext.Default.SluiceGeneration, cancellationToken);
    }

    /// <summary>
    /// Starts a generation under a fresh idempotency key and retries a create that got no answer (a cut connection, a
    /// timeout, a 502/503/504) with the reconnect backoff: the same key gives the same generation, never a second one.
    /// </summary>
    internal async Task<SluiceGeneration> CreateGenerationReliablyAsync(SluiceGenerationRequest request, CancellationToken cancellationToken)
    {
        var key = "sluice-client-" + Guid.NewGuid().ToString("N");
        for (var failed = 0; ; )
        {
            try
            {
                return await CreateGenerationAsync(request, key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && failed < _options.MaxRetries
                && (ex is HttpRequestException or TaskCanceledException
                    || ex is SluiceApiException { StatusCode: HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout }))
            {
                failed++;
                await Task.Delay(BackoffDelay(_options, failed, _random()), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A generation's status, usage and timings (<c>GET /v1/generations/{id}</c>).</summary>
    public Task<SluiceGeneration> GetGenerationAsync(string generationId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(generationId);
        return SendAsync(HttpMethod.Get, $"/v1/generations/{Uri.EscapeDataString(generationId)}", null, null, SluiceJsonContext.Default.SluiceGeneration, cancellationToken);
    }

    /// <summary>Asks a generation to stop (<c>POST /v1/generations/{id}/cancel</c>); its stream ends with <c>done</c> <c>cancelled</c>.</summary>
    public async Task CancelAsync(string generationId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(generationId);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/generations/{Uri.EscapeDataString(generationId)}/cancel");
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await SluiceApiException.FromResponseAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Appends one event to a stream (created on first publish); returns its id.</summary>
    public async Task<long> PublishAsync(string streamId, SluicePublishEvent @event, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var ids = await PublishBatchAsync(streamId, [@event], cancellationToken).ConfigureAwait(false);
        return ids[0];
    }

    /// <summary>Appends events to a stream in one call, in order and all or none; returns their ids.</summary>
    public async Task<IReadOnlyList<long>> PublishBatchAsync(string streamId, IReadOnlyList<SluicePublishEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return [];
        }

        var result = await SendAsync(HttpMethod.Post, $"/v1/streams/{Uri.EscapeDataString(streamId)}/events",
            JsonContent.Create(new PublishBatch(events), SluiceJsonContext.Default.PublishBatch), null, SluiceJsonContext.Default.PublishResult, cancellationToken).ConfigureAwait(false);
        return result.Ids;
    }

    /// <summary>A fresh access token for a generation's events (<c>POST /v1/generations/{id}/tokens</c>), e.g. for a browser.</summary>
    public Task<SluiceAccessToken> CreateGenerationTokenAsync(string generationId, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(generationId);
        return CreateTokenAsync($"/v1/generations/{Uri.EscapeDataString(generationId)}/tokens", ttl, cancellationToken);
    }

    /// <summary>A fresh access token for a stream's events (<c>POST /v1/streams/{id}/tokens</c>), e.g. for a browser.</summary>
    public Task<SluiceAccessToken> CreateStreamTokenAsync(string streamId, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        return CreateTokenAsync($"/v1/streams/{Uri.EscapeDataString(streamId)}/tokens", ttl, cancellationToken);
    }

    private Task<SluiceAccessToken> CreateTokenAsync(string path, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        int? seconds = ttl is { } t ? (int)Math.Ceiling(t.TotalSeconds) : null;
        return SendAsync(HttpMethod.Post, path, JsonContent.Create(new TokenRequest(seconds), SluiceJsonContext.Default.TokenRequest), null,
            SluiceJsonContext.Default.SluiceAccessToken, cancellationToken);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, string? idempotencyKey, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await SluiceApiException.FromResponseAsync(response, cancellationToken).ConfigureAwait(false);
        }

        return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
            ?? throw new SluiceApiException(response.StatusCode, null, string.Create(CultureInfo.InvariantCulture, $"Sluice answered {(int)response.StatusCode} with no body"));
    }
}
