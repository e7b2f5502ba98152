namespace Sluice.Http.Requests;

/// <summary>Why a body was refused: a stable problem code, a message for people, and the field it is about.</summary>
internal sealed record BodyError(string Code, string Message, string? Param = null);
