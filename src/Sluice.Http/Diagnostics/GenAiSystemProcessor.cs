using System.Diagnostics;
using OpenTelemetry;
using Sluice.Diagnostics;

namespace Sluice.Http.Diagnostics;

/// <summary>
/// Microsoft.Extensions.AI names a provider span's provider <c>gen_ai.provider.name</c>, the current GenAI convention;
/// many backends still group by its older name <c>gen_ai.system</c>, so the span carries both. Runs before the exporter.
/// </summary>
internal sealed class GenAiSystemProcessor : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        if (data.Source.Name == SluiceTracing.ProviderSourceName
            && data.GetTagItem(SluiceTracing.GenAi.ProviderName) is string provider
            && data.GetTagItem(SluiceTracing.GenAi.System) is null)
        {
            data.SetTag(SluiceTracing.GenAi.System, provider);
        }
    }
}
