using System.Diagnostics;

namespace Sluice.Diagnostics;

/// <summary>
/// Sluice's own spans (API.md section 11). A static source, as OpenTelemetry recommends: with no tracer provider
/// listening (<c>Sluice:Telemetry:Tracing=false</c>), <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns null and nothing is allocated.
/// </summary>
internal static class SluiceTracing
{
    public const string SourceName = "Sluice";

    /// <summary>Microsoft.Extensions.AI's <c>UseOpenTelemetry()</c> source: the provider spans.</summary>
    public const string ProviderSourceName = "Experimental.Microsoft.Extensions.AI";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>OpenTelemetry GenAI semantic conventions (gen_ai.*), the names Sluice sets itself.</summary>
    public static class GenAi
    {
        public const string OperationName = "gen_ai.operation.name";
        public const string ProviderName = "gen_ai.provider.name";

        /// <summary>The older name of <see cref="ProviderName"/>, still what many backends group by.</summary>
        public const string System = "gen_ai.system";
        public const string RequestModel = "gen_ai.request.model";
        public const string RequestMaxTokens = "gen_ai.request.max_tokens";
        public const string ResponseModel = "gen_ai.response.model";
        public const string FinishReasons = "gen_ai.response.finish_reasons";
        public const string InputTokens = "gen_ai.usage.input_tokens";
        public const string OutputTokens = "gen_ai.usage.output_tokens";
        public const string TimeToFirstChunk = "gen_ai.response.time_to_first_chunk";
        public const string ErrorType = "error.type";

        /// <summary>The span event marking the first token; Sluice's, as the conventions name no such event.</summary>
        public const string FirstTokenEvent = "gen_ai.first_token";
    }
}
