using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sluice.Configuration;
using Sluice.Http.Problems;
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

    public static Outcome Read(JsonDocument document, LimitOptions limits)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Fail(ProblemCodes.InvalidRequest, "The body must be a JSON object: {\"type\",\"data\"} or {\"events\":[...]}.");
        }

        var events = new List<NewEvent>();
        if (root.TryGetProperty("events", out var array))
        {
            if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                return Fail(ProblemCodes.InvalidRequest, "'events' must be a non-empty array.");
            }

            if (array.GetArrayLength() > limits.MaxEventsPerBatch)
            {
                return Fail(ProblemCodes.InvalidRequest, $"At most {limits.MaxEventsPerBatch} events per request (Sluice:Limits:MaxEventsPerBatch).");
            }

            var index = 0;
            foreach (var item in array.EnumerateArray())
            {
                var problem = ReadOne(item, limits, $"events[{index}]", events);
                if (problem is not null)
                {
                    return problem.Value;
                }

                index++;
            }
        }
        else
        {
            var problem = ReadOne(root, limits, "the event", events);
            if (problem is not null)
            {
                return problem.Value;
            }
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

    private static Outcome? ReadOne(JsonElement item, LimitOptions limits, string where, List<NewEvent> into)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return Fail(ProblemCodes.InvalidRequest, $"{where} must be an object with 'type' and 'data'.");
        }

        if (!item.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            return Fail(ProblemCodes.InvalidEventType, $"{where} needs a string 'type'.");
        }

        var type = typeElement.GetString();
        if (!EventTypes.IsValid(type))
        {
            return Fail(ProblemCodes.InvalidEventType,
                $"{where} has type '{Printable(type)}'; allowed: token, tool, citation, done, error, heartbeat, safe_response, or x-[a-z0-9._-]+.");
        }

        string data;
        if (!item.TryGetProperty("data", out var dataElement) || dataElement.ValueKind == JsonValueKind.Null)
        {
            data = "{}";
        }
        else if (dataElement.ValueKind != JsonValueKind.Object)
        {
            return Fail(ProblemCodes.InvalidEventData, $"{where}: 'data' must be a JSON object.");
        }
        else
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, Compact))
            {
                dataElement.WriteTo(writer);
            }

            if (buffer.WrittenCount > limits.MaxEventBytes)
            {
                return new Outcome(null, 413, ProblemCodes.EventTooLarge,
                    $"{where}: data is {buffer.WrittenCount} bytes; the limit is {limits.MaxEventBytes} (Sluice:Limits:MaxEventBytes).");
            }

            data = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        into.Add(new NewEvent(type!, data));
        return null;
    }

    private static string Printable(string? value) =>
        value is null ? "" : new string([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);

    private static Outcome Fail(string code, string detail) => new(null, 400, code, detail);
}
