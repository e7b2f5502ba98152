using System.Text.Json;
using Microsoft.Extensions.AI;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Streams;

using Sluice.Http.Problems;

namespace Sluice.Http.Requests;

/// <summary>
/// The rules that span fields, from a typed body to a <see cref="GenerationRequest"/>: one reader for both
/// <c>POST /v1/generations</c> and <c>POST /v1/chat/completions</c>, which share messages, limits and the
/// simulated provider's shape.
/// </summary>
internal static class GenerationRequestReader
{
    private static readonly string[] FailModes = ["none", "before_first_token", "mid_stream", "hang"];
    private static readonly JsonElement ObjectSchema = JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone();

    public static (GenerationRequest? Request, BodyError? Error) Read(GenerationBody body, GenerationOptions limits)
    {
        if (body.Model is not null && body.Model is not { Length: > 0 and <= 256 })
        {
            return Fail(ProblemCodes.InvalidRequest, "model must be a non-empty string such as simulated/default.", "model");
        }

        IReadOnlyList<ChatMessage> messages = [];
        if (body.Messages is { } list)
        {
            if (ReadMessages(list, limits.MaxMessages, out var read) is { } error)
            {
                return (null, error);
            }

            messages = read;
        }

        PromptReference? prompt = null;
        if (body.Prompt is { } p)
        {
            if (messages.Count > 0)
            {
                return Fail(ProblemCodes.InvalidRequest, "Give either messages or prompt, not both.");
            }

            if (!Identifiers.IsValidStreamId(p.Id))
            {
                return Fail(ProblemCodes.InvalidPrompt, "prompt must be {\"id\", \"version\"?, \"variables\"?} with an id matching [A-Za-z0-9._:-]{1,128}.", "prompt.id");
            }

            if (p.Version is < 1)
            {
                return Fail(ProblemCodes.InvalidPrompt, "prompt.version must be a positive integer.", "prompt.version");
            }

            var variables = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in p.Variables ?? [])
            {
                variables[name] = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
            }

            prompt = new PromptReference(p.Id!, p.Version, variables);
        }
        else if (messages.Count == 0)
        {
            return Fail(ProblemCodes.EmptyMessages, "messages must hold at least one message (or give a prompt reference).", "messages");
        }
        else if (body.Model is null)
        {
            return Fail(ProblemCodes.InvalidRequest, "model is required.", "model");
        }

        if (ReadMaxTokens(body.MaxTokens, "max_tokens", limits) is { } tokensError)
        {
            return (null, tokensError);
        }

        if (ReadTemperature(body.Temperature) is { } temperatureError)
        {
            return (null, temperatureError);
        }

        ResponseContract? contract = null;
        if (body.ResponseContract is { } rc)
        {
            if (rc.Type != "json_schema" || rc.Schema is not { ValueKind: JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False } schema)
            {
                return Fail(ProblemCodes.InvalidResponseContract, "response_contract must be {\"type\":\"json_schema\",\"schema\":{...}}.", "response_contract");
            }

            if (!ResponseContract.TryCreate(schema, out contract, out var error))
            {
                return Fail(ProblemCodes.InvalidResponseContract, "The schema is not a valid JSON Schema: " + error, "response_contract.schema");
            }
        }

        if (body.Channel is not null && !Identifiers.IsValidTenant(body.Channel))
        {
            return Fail(ProblemCodes.InvalidRequest, "channel must match [A-Za-z0-9._-]{1,64}.", "channel");
        }

        if (body.Metadata is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
        {
            return Fail(ProblemCodes.InvalidRequest, "metadata must be a JSON object.", "metadata");
        }

        var (simulate, simulateError) = ReadSimulate(body.Simulate);
        if (simulateError is not null)
        {
            return (null, simulateError);
        }

        return (new GenerationRequest
        {
            Model = body.Model,
            Messages = messages,
            Prompt = prompt,
            MaxTokens = body.MaxTokens,
            Temperature = (float?)body.Temperature,
            Contract = contract,
            Channel = body.Channel,
            Simulate = simulate,
        }, null);
    }

    public static (GenerationRequest? Request, BodyError? Error) Read(ChatCompletionBody body, GenerationOptions limits)
    {
        if (body.Model is not { Length: > 0 and <= 256 } model)
        {
            return Fail(ProblemCodes.InvalidRequest, "model is required.", "model");
        }

        if (body.Messages is not { } list)
        {
            return Fail(ProblemCodes.EmptyMessages, "messages is required.", "messages");
        }

        if (ReadMessages(list, limits.MaxMessages, out var messages) is { } messagesError)
        {
            return (null, messagesError);
        }

        if (messages.Count == 0)
        {
            return Fail(ProblemCodes.EmptyMessages, "messages must hold at least one message.", "messages");
        }

        if ((ReadMaxTokens(body.MaxCompletionTokens, "max_completion_tokens", limits) ?? ReadMaxTokens(body.MaxTokens, "max_tokens", limits)) is { } tokensError)
        {
            return (null, tokensError);
        }

        if (ReadTemperature(body.Temperature) is { } temperatureError)
        {
            return (null, temperatureError);
        }

        var tools = new List<AITool>();
        for (var i = 0; i < (body.Tools?.Count ?? 0); i++)
        {
            if (body.Tools![i] is not { Function: { Name: { Length: > 0 } name } function })
            {
                return Fail(ProblemCodes.InvalidRequest, "tools must be [{\"type\":\"function\",\"function\":{\"name\",...}}].", $"tools[{i}]");
            }

            var schema = function.Parameters is { ValueKind: JsonValueKind.Object } parameters ? parameters : ObjectSchema;
            tools.Add(AIFunctionFactory.CreateDeclaration(name, function.Description, schema));
        }

        ResponseContract? contract = null;
        if (body.ResponseFormat is { Type: "json_schema", JsonSchema.Schema: { } schemaElement }
            && !ResponseContract.TryCreate(schemaElement, out contract, out var schemaError))
        {
            return Fail(ProblemCodes.InvalidResponseContract, "response_format.json_schema.schema is not a valid JSON Schema: " + schemaError, "response_format");
        }

        // Sluice's extension, as an SDK's extra body field: shape a run of the simulated provider.
        var (simulate, simulateError) = ReadSimulate(body.Simulate);
        if (simulateError is not null)
        {
            return (null, simulateError);
        }

        return (new GenerationRequest
        {
            Model = model,
            Messages = messages,
            Simulate = simulate,
            MaxTokens = body.MaxCompletionTokens ?? body.MaxTokens,
            Temperature = (float?)body.Temperature,
            Tools = tools,
            Contract = contract,
        }, null);
    }

    private static BodyError? ReadMessages(IReadOnlyList<MessageBody?> list, int max, out IReadOnlyList<ChatMessage> messages)
    {
        messages = [];
        if (list.Count > max)
        {
            return new BodyError(ProblemCodes.InvalidMessages, $"At most {max} messages are accepted (Sluice:Generations:MaxMessages).", "messages");
        }

        var read = new List<ChatMessage>(list.Count);
        for (var index = 0; index < list.Count; index++)
        {
            var where = $"messages[{index}]";
            if (list[index] is not { } item)
            {
                return new BodyError(ProblemCodes.InvalidMessages, where + " must be an object with a role.", where);
            }

            ChatRole? role = item.Role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                _ => null,
            };
            if (role is null)
            {
                return new BodyError(ProblemCodes.InvalidMessages, where + ".role must be system, user, assistant or tool.", where + ".role");
            }

            var text = item.Content?.Text;
            var calls = item.ToolCalls ?? [];
            if (string.IsNullOrEmpty(text) && calls.Count == 0)
            {
                return new BodyError(ProblemCodes.InvalidMessages, where + ".content must not be empty.", where + ".content");
            }

            var message = new ChatMessage(role.Value, text ?? "");
            for (var c = 0; c < calls.Count; c++)
            {
                var at = $"{where}.tool_calls[{c}]";
                if (calls[c] is not { Id: { Length: > 0 } id, Function: { Name: { Length: > 0 } name } function })
                {
                    return new BodyError(ProblemCodes.InvalidMessages, at + " must be {\"id\",\"type\":\"function\",\"function\":{\"name\",\"arguments\"}}.", at);
                }

                if (Arguments(function.Arguments) is not { } arguments)
                {
                    return new BodyError(ProblemCodes.InvalidMessages, at + ".function.arguments must be a JSON object encoded as a string.", at + ".function.arguments");
                }

                message.Contents.Add(new FunctionCallContent(id, name, arguments.Count == 0 ? null : arguments));
            }

            if (role == ChatRole.Tool && item.ToolCallId is { } callId)
            {
                message.Contents = [new FunctionResultContent(callId, text)];
            }

            read.Add(message);
        }

        messages = read;
        return null;
    }

    /// <summary>A tool call's arguments, a JSON object inside a string; null when they are not one.</summary>
    private static Dictionary<string, object?>? Arguments(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                arguments[property.Name] = property.Value.Clone();
            }

            return arguments;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static BodyError? ReadMaxTokens(int? value, string name, GenerationOptions limits) =>
        value is null || (value >= 1 && value <= limits.MaxOutputTokens)
            ? null
            : new BodyError(ProblemCodes.InvalidRequest, $"{name} must be an integer from 1 to {limits.MaxOutputTokens}.", name);

    private static BodyError? ReadTemperature(double? value) =>
        value is null or (>= 0 and <= 2) ? null : new BodyError(ProblemCodes.InvalidRequest, "temperature must be a number from 0 to 2.", "temperature");

    private static (SimulateOptions? Options, BodyError? Error) ReadSimulate(SimulateBody? body)
    {
        if (body is null)
        {
            return (null, null);
        }

        string? bad = body switch
        {
            { TtftMs: < 0 or > 600_000 } => "ttft_ms",
            { TokensPerSecond: < 0 or > 1_000_000 } => "tokens_per_second",
            { OutputTokens: < 0 or > 100_000 } => "output_tokens",
            { Fail: { } fail } when !FailModes.Contains(fail) => "fail",
            { FailAfterTokens: < 0 } => "fail_after_tokens",
            { ToolCalls: < 0 or > 64 } => "tool_calls",
            { Citations: < 0 or > 64 } => "citations",
            { Text: "" } => "text",
            _ => null,
        };
        if (bad is not null)
        {
            return (null, new BodyError(ProblemCodes.InvalidSimulate,
                $"simulate.{bad} is out of range (ttft_ms, tokens_per_second, output_tokens, fail: none|before_first_token|mid_stream|hang, fail_after_tokens, tool_calls, citations, seed, text).",
                "simulate." + bad));
        }

        return (new SimulateOptions
        {
            TtftMs = body.TtftMs,
            TokensPerSecond = body.TokensPerSecond,
            OutputTokens = body.OutputTokens,
            Fail = body.Fail,
            FailAfterTokens = body.FailAfterTokens,
            ToolCalls = body.ToolCalls,
            Citations = body.Citations,
            Seed = body.Seed,
            Text = body.Text,
        }, null);
    }

    private static (GenerationRequest?, BodyError?) Fail(string code, string message, string? param = null) => (null, new BodyError(code, message, param));
}
