namespace Sluice.Generations;

/// <summary>API.md section 4: <c>queued|running|succeeded|failed|cancelled</c>.</summary>
internal enum GenerationStatus
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

internal static class GenerationStatusNames
{
    public static string ToName(this GenerationStatus status) => status switch
    {
        GenerationStatus.Queued => "queued",
        GenerationStatus.Running => "running",
        GenerationStatus.Succeeded => "succeeded",
        GenerationStatus.Failed => "failed",
        _ => "cancelled",
    };

    public static bool TryParse(string? name, out GenerationStatus status)
    {
        status = name switch
        {
            "queued" => GenerationStatus.Queued,
            "running" => GenerationStatus.Running,
            "succeeded" => GenerationStatus.Succeeded,
            "failed" => GenerationStatus.Failed,
            "cancelled" => GenerationStatus.Cancelled,
            _ => (GenerationStatus)(-1),
        };
        return (int)status >= 0;
    }

    public static bool IsFinished(this GenerationStatus status) => status is GenerationStatus.Succeeded or GenerationStatus.Failed or GenerationStatus.Cancelled;
}
