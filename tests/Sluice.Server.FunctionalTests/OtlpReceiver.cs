using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// An OTLP/HTTP receiver on 127.0.0.1, as a Collector listens on 4318: it takes <c>/v1/traces</c>, <c>/v1/logs</c> and
/// <c>/v1/metrics</c> in protobuf, keeps each body, and reads spans and log records from them with Google.Protobuf's
/// wire reader by the field numbers of opentelemetry-proto (trace.proto, logs.proto, common.proto).
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app)
    {
        _app = app;
        Endpoint = app.Address();
    }

    public Uri Endpoint { get; }

    /// <summary>Every request as received: its path and body.</summary>
    public ConcurrentQueue<(string Path, byte[] Body)> Requests { get; } = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        OtlpReceiver? self = null;
        var app = await LoopbackApp.StartAsync(app => app.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            self!.Requests.Enqueue(("/v1/" + signal, body.ToArray()));
            // An empty Export*ServiceResponse: full success.
            context.Response.ContentType = "application/x-protobuf";
        }));
        self = new OtlpReceiver(app);
        return self;
    }

    public IReadOnlyList<OtlpSpan> Spans() =>
        [.. Bodies("/v1/traces").SelectMany(body => Children(Read(body), 1))   // ResourceSpans
            .SelectMany(resource => Children(Read(resource), 2))               // ScopeSpans
            .SelectMany(scope =>
            {
                var fields = Read(scope);
                var scopeName = Children(fields, 1).Select(s => Text(Read(s), 1)).FirstOrDefault() ?? "";
                return Children(fields, 2).Select(span => Span(Read(span), scopeName));
            })];

    public IReadOnlyList<OtlpLog> Logs() =>
        [.. Bodies("/v1/logs").SelectMany(body => Children(Read(body), 1))
            .SelectMany(resource => Children(Read(resource), 2))
            .SelectMany(scope => Children(Read(scope), 2))
            .Select(record =>
            {
                var fields = Read(record);
                return new OtlpLog(Hex(fields, 9), Hex(fields, 10), Children(fields, 5).Select(b => AnyValue(Read(b))).FirstOrDefault()?.ToString(), Attributes(fields, 6));
            })];

    public int Count(string path) => Requests.Count(r => r.Path == path);

    private IEnumerable<byte[]> Bodies(string path) => Requests.Where(r => r.Path == path).Select(r => r.Body);

    private static OtlpSpan Span(List<(int Field, object Value)> span, string scope) => new(
        Hex(span, 1), Hex(span, 2), Hex(span, 4), Text(span, 5) ?? "", (int)(ulong)(span.FirstOrDefault(f => f.Field == 6).Value ?? 0UL), scope,
        Attributes(span, 9),
        [.. Children(span, 11).Select(e => Read(e)).Select(e => new OtlpSpanEvent(Text(e, 2) ?? "", Attributes(e, 3)))],
        Children(span, 15).Select(s => (int)(ulong)(Read(s).FirstOrDefault(f => f.Field == 3).Value ?? 0UL)).FirstOrDefault());

    private static Dictionary<string, object?> Attributes(List<(int Field, object Value)> message, int field)
    {
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in Children(message, field).Select(Read))
        {
            attributes[Text(kv, 1) ?? ""] = Children(kv, 2).Select(v => AnyValue(Read(v))).FirstOrDefault();
        }

        return attributes;
    }

    private static object? AnyValue(List<(int Field, object Value)> value) => value.FirstOrDefault() switch
    {
        (1, ByteString s) => s.ToStringUtf8(),
        (2, ulong b) => b != 0,
        (3, ulong i) => (long)i,
        (4, ulong d) => BitConverter.Int64BitsToDouble((long)d),
        (5, ByteString array) => Children(Read(array), 1).Select(v => AnyValue(Read(v))).ToList(),
        (6, ByteString list) => Attributes(Read(list), 1),
        (7, ByteString bytes) => bytes.ToByteArray(),
        _ => null,
    };

    private static IEnumerable<ByteString> Children(List<(int Field, object Value)> message, int field) =>
        message.Where(f => f.Field == field).Select(f => (ByteString)f.Value);

    private static string? Text(List<(int Field, object Value)> message, int field) => Children(message, field).Select(b => b.ToStringUtf8()).FirstOrDefault();

    private static string Hex(List<(int Field, object Value)> message, int field) =>
        Children(message, field).Select(b => Convert.ToHexStringLower(b.Span)).FirstOrDefault() ?? "";

    private static List<(int Field, object Value)> Read(byte[] bytes) => Read(ByteString.CopyFrom(bytes));

    /// <summary>One message's fields in order: varints and fixed values as <see cref="ulong"/>, the rest as bytes.</summary>
    private static List<(int Field, object Value)> Read(ByteString bytes)
    {
        var fields = new List<(int, object)>();
        var input = new CodedInputStream(bytes.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            switch (WireFormat.GetTagWireType(tag))
            {
                case WireFormat.WireType.Varint:
                    fields.Add((field, input.ReadUInt64()));
                    break;
                case WireFormat.WireType.Fixed64:
                    fields.Add((field, input.ReadFixed64()));
                    break;
                case WireFormat.WireType.Fixed32:
                    fields.Add((field, (ulong)input.ReadFixed32()));
                    break;
                case WireFormat.WireType.LengthDelimited:
                    fields.Add((field, input.ReadBytes()));
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return fields;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal sealed record OtlpSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope,
    Dictionary<string, object?> Attributes, IReadOnlyList<OtlpSpanEvent> Events, int StatusCode)
{
    public const int Server = 2;

    public object? this[string attribute] => Attributes.GetValueOrDefault(attribute);
}

internal sealed record OtlpSpanEvent(string Name, Dictionary<string, object?> Attributes);

internal sealed record OtlpLog(string TraceId, string SpanId, string? Body, Dictionary<string, object?> Attributes);
