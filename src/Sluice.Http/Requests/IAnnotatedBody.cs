namespace Sluice.Http.Requests;

/// <summary>A request body whose properties carry DataAnnotations that <see cref="RequestBody"/> checks after it deserializes.</summary>
internal interface IAnnotatedBody;
