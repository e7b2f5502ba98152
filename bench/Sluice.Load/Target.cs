using System.Net.Http.Headers;
using System.Text;

namespace Sluice.Load;

/// <summary>
/// The URL contract of one system under test. Sluice speaks API.md; the peers in
/// shared/tools/sseload-peers speak <c>POST /pub/{topic}</c> + <c>GET /sub/{topic}</c>. Payloads are the same JSON
/// object either way, so the reader parses both alike.
/// </summary>
internal sealed class Target
{
    private readonly Uri[] _subscribeUris;
    private int _nextSubscriber;

    private Target(string name, Uri baseUri, string? key, Uri[] subscribeUris)
    {
        Name = name;
        BaseUri = baseUri;
        Key = key;
        _subscribeUris = subscribeUris.Length == 0 ? [baseUri] : subscribeUris;
    }

    public string Name { get; }

    public Uri BaseUri { get; }

    public string? Key { get; }

    public bool IsSluice => Name.StartsWith("sluice", StringComparison.Ordinal);

    /// <summary>Publishes go to <paramref name="url"/>; subscribers take <paramref name="subscribeUrls"/> (comma-separated: several nodes of a cluster) in turn.</summary>
    public static Target Create(string name, string url, string? key, string? subscribeUrls = null) =>
        new(name, Loopback(url), key, [.. (subscribeUrls ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Loopback)]);

    private static Uri Loopback(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !(uri.Host is "127.0.0.1" or "localhost" or "[::1]" || uri.Host.StartsWith("127.", StringComparison.Ordinal)))
        {
            throw new ArgumentException("Load goes to loopback only: --url must be http://127.0.0.1:PORT");
        }

        return uri;
    }

    public HttpRequestMessage Publish(string topic, string payloadJson)
    {
        if (IsSluice)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, $"/v1/streams/{topic}/events"))
            {
                Content = new StringContent("{\"type\":\"x-load\",\"data\":" + payloadJson + "}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            return request;
        }

        return new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, $"/pub/{topic}")) { Content = new StringContent(payloadJson, Encoding.UTF8) };
    }

    public HttpRequestMessage Subscribe(string topic, string? lastEventId)
    {
        var path = IsSluice ? $"/v1/streams/{topic}/events" : $"/sub/{topic}";
        var node = _subscribeUris[(int)((uint)Interlocked.Increment(ref _nextSubscriber) % (uint)_subscribeUris.Length)];
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node, path));
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (IsSluice)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        }

        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        return request;
    }
}
