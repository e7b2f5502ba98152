using System.Text.Json;
using Microsoft.Extensions.AI;
using Sluice.Configuration;
using Sluice.Generations;

namespace Sluice.Http.Generations;

/// <summary>Parses and validates the body of <c>POST /v1/generations</c> (API.md section 4).</summary>
internal static class GenerationRequestReader
{
    private static readonly string[] FailModes = ["none", "before_first_token", "mid_stream", "hang"];

    public static (GenerationRequest? Request, string? Code, string? Error) Read(JsonElement root, GenerationOptions limits)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Fail("invalid_request", "The body must be a JSON object.");
        }

        string? model = null;
        if (root.TryGetProperty("model", out var m))
        {
            if (m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 and <= 256 } name)
            {
                return Fail("invalid_request", "model must be a non-empty string such as simulated/default.");
            }

            model = name;
        }

        IReadOnlyList<ChatMessage> messages = [];
        if (root.TryGetProperty("messages", out var list))
        {
            var (parsed, error) = ReadMessages(list, limits.MaxMessages);
            if (error is not null)
            {
                return Fail("invalid_messages", error);
            }

            messages = parsed!;
        }

        PromptReference? prompt = null;
        if (root.TryGetProperty("prompt", out var p))
        {
            if (messages.Count > 0)
            {
                return Fail("invalid_request", "Give either messages or prompt, not both.");
            }

            var (reference, error) = ReadPrompt(p);
            if (error is not null)
            {
                return Fail("invalid_prompt", error);
            }

            prompt = reference;
        }
        else if (messages.Count == 0)
        {
            return Fail("empty_messages", "messages must hold at least one message (or give a prompt reference).");
        }
        else if (model is null)
        {
            return Fail("invalid_request", "model is required.");
        }

        int? maxTokens = null;
        if (root.TryGetProperty("max_tokens", out var mt) && mt.ValueKind != JsonValueKind.Null)
        {
            if (!mt.TryGetInt32(out var value) || value < 1 || value > limits.MaxOutputTokens)
            {
                return Fail("invalid_request", $"max_tokens must be an integer from 1 to {limits.MaxOutputTokens}.");
            }

            maxTokens = value;
        }

        float? temperature = null;
        if (root.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var value) || value < 0 || value > 2)
            {
                return Fail("invalid_request", "temperature must be a number from 0 to 2.");
            }

            temperature = (float)value;
        }

        ResponseContract? contract = null;
        if (root.TryGetProperty("response_contract", out var rc) && rc.ValueKind != JsonValueKind.Null)
        {
            if (rc.ValueKind != JsonValueKind.Object || !rc.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "json_schema"
                || !rc.TryGetProperty("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                return Fail("invalid_response_contract", "response_contract must be {\"type\":\"json_schema\",\"schema\":{...}}.");
            }

            if (!ResponseContract.TryCreate(schema, out contract, out var error))
            {
                return Fail("invalid_response_contract", "The schema is not a valid JSON Schema: " + error);
            }
        }

        string? channel = null;
        if (root.TryGetProperty("channel", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind != JsonValueKind.String || !Sluice.Streams.Identifiers.IsValidTenant(c.GetString()))
            {
                return Fail("invalid_request", "channel must match [A-Za-z0-9._-]{1,64}.");
            }

            channel = c.GetString();
        }

        if (root.TryGetProperty("metadata", out var md) && md.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return Fail("invalid_request", "metadata must be a JSON object.");
        }

        var (simulate, simulateError) = ReadSimulateField(root);
        if (simulateError is not null)
        {
            return Fail("invalid_simulate", simulateError);
        }

        return (new GenerationRequest
        {
            Model = model,
            Messages = messages,
            Prompt = prompt,
            MaxTokens = maxTokens,
            Temperature = temperature,
            Contract = contract,
            Channel = channel,
            Simulate = simulate,
        }, null, null);
    }

    public static (IReadOnlyList<ChatMessage>? Messages, string? Error) ReadMessages(JsonElement list, int max)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            return (null, "messages must be an array of {role, content}.");
        }

        if (list.GetArrayLength() > max)
        {
            return (null, $"At most {max} messages are accepted (Sluice:Generations:MaxMessages).");
        }

        var messages = new List<ChatMessage>();
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("role", out var r) || r.ValueKind != JsonValueKind.String)
            {
                return (null, $"messages[{index}] must be an object with a role.");
            }

            var role = r.GetString() switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                _ => (ChatRole?)null,
            };
            if (role is null)
            {
                return (null, $"messages[{index}].role must be system, user, assistant or tool.");
            }

            string? text = null;
            if (item.TryGetProperty("content", out var content))
            {
                if (content.ValueKind == JsonValueKind.String)
                {
                    text = content.GetString();
                }
                else if (content.ValueKind == JsonValueKind.Array)
                {
                    var parts = new System.Text.StringBuilder();
                    foreach (var part in content.EnumerateArray())
                    {
                        if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var pt) && pt.ValueKind == JsonValueKind.String)
                        {
                            parts.Append(pt.GetString());
                        }
                        else
                        {
                            return (null, $"messages[{index}].content parts must be {{\"type\":\"text\",\"text\":...}}.");
                        }
                    }

                    text = parts.ToString();
                }
                else if (content.ValueKind != JsonValueKind.Null)
                {
                    return (null, $"messages[{index}].content must be a string or an array of text parts.");
                }
            }

            var hasToolCalls = item.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
            if (string.IsNullOrEmpty(text) && !hasToolCalls)
            {
                return (null, $"messages[{index}].content must not be empty.");
            }

            var message = new ChatMessage(role.Value, text ?? "");
            if (hasToolCalls)
            {
                foreach (var call in calls.EnumerateArray())
                {
                    if (call.TryGetProperty("id", out var id) && call.TryGetProperty("function", out var f) && f.TryGetProperty("name", out var fname))
                    {
                        var args = f.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String
                            ? JsonSerializer.Deserialize(a.GetString()!, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(Dictionary<string, object?>))) as Dictionary<string, object?>
                            : null;
                        message.Contents.Add(new FunctionCallContent(id.GetString()!, fname.GetString()!, args));
                    }
                }
            }

            if (role == ChatRole.Tool && item.TryGetProperty("tool_call_id", out var callId) && callId.ValueKind == JsonValueKind.String)
            {
                message.Contents = [new FunctionResultContent(callId.GetString()!, text)];
            }

            messages.Add(message);
            index++;
        }

        return (messages, null);
    }

    private static (PromptReference? Reference, string? Error) ReadPrompt(JsonElement p)
    {
        var id = default(JsonElement);
        if (p.ValueKind != JsonValueKind.Object || !p.TryGetProperty("id", out id) || id.ValueKind != JsonValueKind.String || !Sluice.Streams.Identifiers.IsValidStreamId(id.GetString()))
        {
            return (null, "prompt must be {\"id\", \"version\"?, \"variables\"?} with an id matching [A-Za-z0-9._:-]{1,128}.");
        }

        int? version = null;
        if (p.TryGetProperty("version", out var v) && v.ValueKind != JsonValueKind.Null)
        {
            if (!v.TryGetInt32(out var number) || number < 1)
            {
                return (null, "prompt.version must be a positive integer.");
            }

            version = number;
        }

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        if (p.TryGetProperty("variables", out var vars) && vars.ValueKind != JsonValueKind.Null)
        {
            if (vars.ValueKind != JsonValueKind.Object)
            {
                return (null, "prompt.variables must be an object.");
            }

            foreach (var property in vars.EnumerateObject())
            {
                variables[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }

        return (new PromptReference(id.GetString()!, version, variables), null);
    }

    /// <summary>The optional <c>simulate</c> field of a request body (absent or null: none).</summary>
    public static (SimulateOptions? Options, string? Error) ReadSimulateField(JsonElement root) =>
        root.TryGetProperty("simulate", out var sim) && sim.ValueKind != JsonValueKind.Null ? ReadSimulate(sim) : (null, null);

    private static (SimulateOptions? Options, string? Error) ReadSimulate(JsonElement sim)
    {
        if (sim.ValueKind != JsonValueKind.Object)
        {
            return (null, "simulate must be an object.");
        }

        var options = new SimulateOptions();
        foreach (var property in sim.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "ttft_ms" when value.TryGetInt32(out var ms) && ms is >= 0 and <= 600_000:
                    options.TtftMs = ms;
                    break;
                case "tokens_per_second" when value.TryGetDouble(out var tps) && tps is >= 0 and <= 1_000_000:
                    options.TokensPerSecond = tps;
                    break;
                case "output_tokens" when value.TryGetInt32(out var n) && n is >= 0 and <= 100_000:
                    options.OutputTokens = n;
                    break;
                case "fail" when value.ValueKind == JsonValueKind.String && FailModes.Contains(value.GetString()):
                    options.Fail = value.GetString();
                    break;
                case "fail_after_tokens" when value.TryGetInt32(out var after) && after >= 0:
                    options.FailAfterTokens = after;
                    break;
                case "tool_calls" when value.TryGetInt32(out var tools) && tools is >= 0 and <= 64:
                    options.ToolCalls = tools;
                    break;
                case "citations" when value.TryGetInt32(out var citations) && citations is >= 0 and <= 64:
                    options.Citations = citations;
                    break;
                case "seed" when value.TryGetInt32(out var seed):
                    options.Seed = seed;
                    break;
                case "text" when value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 }:
                    options.Text = value.GetString();
                    break;
                default:
                    return (null, $"simulate.{property.Name} is unknown or out of range (ttft_ms, tokens_per_second, output_tokens, fail: none|before_first_token|mid_stream|hang, fail_after_tokens, tool_calls, citations, seed, text).");
            }
        }

        return (options, null);
    }

    private static (GenerationRequest?, string?, string?) Fail(string code, string message) => (null, code, message);
}
