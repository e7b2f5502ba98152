using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sluice.Configuration;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Streams;

namespace Sluice.Http.Streams;

/// <summary>
/// Reads <c>{"type","data"}</c> or <c>{"events":[...]}</c>. Data is re-serialized as compact JSON, which
/// escapes every CR and LF inside strings, so each event's data is one line whatever the client sent.
/// </summary>
internal static class PublishRequestReader
{
    private static readonly JsonWriterOptions Compact = new()
    {
        Indented = false,
        // Non-ASCII text stays readable; control characters (CR, LF, NUL) are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    public readonly record struct Outcome(List<NewEvent>? Events, int Status, string Code, string Detail);

    public static Outcome Read(PublishBody body, LimitOptions limits)
    {
        var events = new List<NewEvent>();
        if (body.Events is { } batch)
        {
            if (batch.Count == 0)
            {
                return Fail(ProblemCodes.InvalidRequest, "'events' must be a non-empty array.");
            }

            if (batch.Count > limits.MaxEventsPerBatch)
            {
                return Fail(ProblemCodes.InvalidRequest, $"At most {limits.MaxEventsPerBatch} events per request (Sluice:Limits:MaxEventsPerBatch).");
            }

            for (var index = 0; index < batch.Count; index++)
            {
                var where = $"events[{index}]";
                if (batch[index] is not { } item)
                {
                    return Fail(ProblemCodes.InvalidRequest, $"{where} must be an object with 'type' and 'data'.");
                }

                if (ReadOne(item.Type, item.Data, limits, where, events) is { } problem)
                {
                    return problem;
                }
            }
        }
        else if (ReadOne(body.Type, body.Data, limits, "the event", events) is { } problem)
        {
            return problem;
        }

        for (var i = 0; i < events.Count - 1; i++)
        {
            if (EventTypes.IsTerminal(events[i].Type))
            {
                return Fail(ProblemCodes.InvalidRequest, $"events[{i}] is terminal ('{events[i].Type}'); a terminal event must be the last of a batch.");
            }
        }

        return new Outcome(events, 0, "", "");
    }

    private static Outcome? ReadOne(string? type, JsonElement? dataElement, LimitOptions limits, string where, List<NewEvent> into)
    {
        if (type is null)
        {
            return Fail(ProblemCodes.InvalidEventType, $"{where} needs a string 'type'.");
        }

        if (!EventTypes.IsValid(type))
        {
            return Fail(ProblemCodes.InvalidEventType,
                $"{where} has type '{Printable(type)}'; allowed: token, tool, citation, done, error, heartbeat, safe_response, or x-[a-z0-9._-]+.");
        }

        string data;
        if (dataElement is not { ValueKind: not JsonValueKind.Null } element)
        {
            data = "{}";
        }
        else if (element.ValueKind != JsonValueKind.Object)
        {
            return Fail(ProblemCodes.InvalidEventData, $"{where}: 'data' must be a JSON object.");
        }
        else
        {
            var buffer = new ArrayBufferWriter<byte>();
            try
            {
                using var writer = new Utf8JsonWriter(buffer, Compact);
                element.WriteTo(writer);
            }
            catch (InvalidOperationException)
            {
                // Valid JSON grammar, but "\ud800" alone is no text: no subscriber could decode it.
                return Fail(ProblemCodes.InvalidEventData, $"{where}: 'data' holds an unpaired UTF-16 surrogate escape.");
            }

            if (buffer.WrittenCount > limits.MaxEventBytes)
            {
                return new Outcome(null, 413, ProblemCodes.EventTooLarge,
                    $"{where}: data is {buffer.WrittenCount} bytes; the limit is {limits.MaxEventBytes} (Sluice:Limits:MaxEventBytes).");
            }

            data = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        into.Add(new NewEvent(type, data));
        return null;
    }

    private static string Printable(string? value) =>
        value is null ? "" : new string([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);

    private static Outcome Fail(string code, string detail) => new(null, 400, code, detail);
}
