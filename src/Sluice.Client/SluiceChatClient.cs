using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Sluice.Client;

/// <summary>
/// Sluice as an <see cref="IChatClient"/>: each call starts a generation and reads its events through
/// <see cref="SluiceClient"/>, so a dropped connection resumes by <c>Last-Event-ID</c> with no text repeated or missing.
/// The finish reason is the generation's own: <c>stop</c>, <c>length</c>, <c>tool_calls</c>, <c>content_filter</c>
/// (a safe response), and for a generation that did not finish, <c>cancelled</c> or <c>error</c> (with an
/// <see cref="ErrorContent"/>), never <see cref="ChatFinishReason.Stop"/>.
/// </summary>
public sealed class SluiceChatClient : IChatClient
{
    /// <summary>The finish reason of a generation cancelled before its end.</summary>
    public static ChatFinishReason Cancelled { get; } = new("cancelled");

    /// <summary>The finish reason of a generation that failed (<c>provider_unavailable</c>, <c>worker_lost</c>, ...).</summary>
    public static ChatFinishReason Failed { get; } = new("error");

    private readonly SluiceClient _client;
    private readonly string _model;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A chat client on <paramref name="client"/>; <paramref name="defaultModel"/> when <see cref="ChatOptions.ModelId"/> is not set.</summary>
    public SluiceChatClient(SluiceClient client, string defaultModel = "simulated/default", Uri? baseAddress = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(defaultModel);
        _client = client;
        _model = defaultModel;
        _metadata = new ChatClientMetadata("sluice", baseAddress, defaultModel);
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var model = options?.ModelId ?? _model;
        var request = new SluiceGenerationRequest
        {
            Model = model,
            Messages = [.. messages.Select(m => new SluiceMessage(m.Role.Value, m.Text))],
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature,
        };
        if (options?.AdditionalProperties is { Count: > 0 } extra)
        {
            // Sluice's own request fields (response_contract, channel, metadata, simulate) pass through as JSON.
            request.AdditionalProperties = extra.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value), StringComparer.Ordinal);
        }

        var generation = await _client.CreateGenerationReliablyAsync(request, cancellationToken).ConfigureAwait(false);
        var finished = false;
        try
        {
            await foreach (var e in _client.StreamGenerationAsync(generation.Id, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                var update = Map(e, generation, model);
                if (update is null)
                {
                    continue;
                }

                finished = e.IsTerminal;
                yield return update;
            }
        }
        finally
        {
            if (!finished && cancellationToken.IsCancellationRequested)
            {
                // The caller walked away: nobody else holds this generation's id, so its tokens would be spent for nothing.
                await CancelQuietlyAsync(generation.Id).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType == typeof(SluiceClient) ? _client
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The HttpClient belongs to whoever made the SluiceClient (IHttpClientFactory, usually).
    }

    private static ChatResponseUpdate? Map(SluiceEvent e, SluiceGeneration generation, string model)
    {
        ChatResponseUpdate Update(params AIContent[] contents) => new(ChatRole.Assistant, [.. contents])
        {
            ResponseId = generation.Id,
            MessageId = generation.Id,
            ModelId = model,
            CreatedAt = generation.CreatedAt == default ? null : generation.CreatedAt,
        };

        switch (e)
        {
            case TokenEvent token:
                return Update(new TextContent(token.Text));
            case ToolEvent tool:
                return Update(new FunctionCallContent(tool.CallId, tool.Name, Arguments(tool.Arguments)));
            case DoneEvent done:
                var finished = Update(new UsageContent(new UsageDetails
                {
                    InputTokenCount = done.InputTokens,
                    OutputTokenCount = done.OutputTokens,
                    TotalTokenCount = done.InputTokens + done.OutputTokens,
                }));
                finished.FinishReason = done.FinishReason switch
                {
                    "stop" => ChatFinishReason.Stop,
                    "length" => ChatFinishReason.Length,
                    "tool_calls" => ChatFinishReason.ToolCalls,
                    "cancelled" => Cancelled,
                    null => Failed,
                    var other => new ChatFinishReason(other),
                };
                return finished;
            case SafeResponseEvent safe:
                var replaced = Update(new TextContent(safe.Text));
                replaced.FinishReason = ChatFinishReason.ContentFilter;
                return replaced;
            case ErrorEvent { Id: not null } error:
                var failed = Update(new ErrorContent(error.Message ?? error.Code) { ErrorCode = error.Code });
                failed.FinishReason = Failed;
                return failed;
            default:
                return null; // signals (history_truncated, event_id_ahead), citations and custom events carry no chat text
        }
    }

    private static Dictionary<string, object?>? Arguments(JsonElement arguments)
    {
        var json = arguments.ValueKind == JsonValueKind.String ? arguments.GetString() : arguments.ValueKind == JsonValueKind.Object ? arguments.GetRawText() : null;
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal)
                : null;
        }
        catch (JsonException)
        {
            return null; // a model's malformed arguments: the call is still reported, without them
        }
    }

    private async Task CancelQuietlyAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _client.CancelAsync(id, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or SluiceApiException or OperationCanceledException)
        {
            // Best effort: the generation ends by itself at its token limit.
        }
    }
}
