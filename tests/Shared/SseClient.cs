using System.Net;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;

namespace Sluice.Testing;

/// <summary>A real SSE client: <see cref="SseParser"/> over <see cref="HttpClient"/>.</summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly IAsyncEnumerator<SseItem<string>> _items;

    private SseClient(HttpResponseMessage response, Stream body, CancellationToken cancellationToken)
    {
        _response = response;
        var parser = SseParser.Create(body);
        _items = parser.EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        Parser = parser;
    }

    public SseParser<string> Parser { get; }

    public HttpResponseMessage Response => _response;

    public static async Task<SseClient> ConnectAsync(HttpClient client, string path, string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"SSE connect got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}", null, response.StatusCode);
        }

        var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return new SseClient(response, body, cancellationToken);
    }

    /// <summary>The next item, or null when the server ended the response.</summary>
    public async Task<SseItem<string>?> NextAsync()
    {
        return await _items.MoveNextAsync() ? _items.Current : null;
    }

    /// <summary>Items until the response ends.</summary>
    public async IAsyncEnumerable<SseItem<string>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _items.MoveNextAsync())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return _items.Current;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _items.DisposeAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
        }

        _response.Dispose();
    }
}
