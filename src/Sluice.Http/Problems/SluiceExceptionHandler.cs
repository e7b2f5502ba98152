using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sluice.Http.Problems;

/// <summary>The boundary: classify what escaped an endpoint into a problem response; log the unexpected.</summary>
internal sealed partial class SluiceExceptionHandler(ILogger<SluiceExceptionHandler> logger, Sluice.Storage.IStoreFaults faults) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        // On the OpenAI surface Problem answers in OpenAI's error shape, whatever went wrong.
        switch (exception)
        {
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                await Problem.WriteAsync(httpContext, 413, ProblemCodes.BodyTooLarge, "The request body is too large.",
                    "The body exceeds Sluice:Limits:MaxBodyBytes.");
                return true;
            case BadHttpRequestException bad:
                await Problem.WriteAsync(httpContext, bad.StatusCode, ProblemCodes.InvalidRequest, "The request is not valid.", bad.Message);
                return true;
            case OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested:
                return true;
            case var _ when faults.IsUnavailable(exception):
                // Nothing was acknowledged: the client may send the same request again (with its Idempotency-Key).
                LogStoreUnavailable(httpContext.Request.Path, exception.Message);
                await Problem.WriteAsync(httpContext, 503, ProblemCodes.StoreUnavailable, "The store is unavailable.",
                    "Sluice cannot reach its store; nothing of this request was stored. Retry after the delay.", TimeSpan.FromSeconds(2));
                return true;
            default:
                LogUnhandled(exception, httpContext.Request.Path);
                await Problem.WriteAsync(httpContext, 500, ProblemCodes.Internal, "Internal error.", "The error was logged with this request's trace id.");
                return true;
        }
    }

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Store unavailable on {Path}: {Error}")]
    private partial void LogStoreUnavailable(PathString path, string error);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Unhandled error on {Path}")]
    private partial void LogUnhandled(Exception exception, PathString path);
}
