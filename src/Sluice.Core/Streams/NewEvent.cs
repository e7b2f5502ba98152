namespace Sluice.Streams;

/// <summary>An event to append: a validated type and its data as compact, single-line JSON.</summary>
internal sealed record NewEvent(string Type, string Data);
