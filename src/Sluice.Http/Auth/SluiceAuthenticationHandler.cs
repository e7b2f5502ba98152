using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Http.Problems;
using Sluice.Tenancy;

namespace Sluice.Http.Auth;

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c>, or <c>?access_token=</c> for EventSource. A token stops working when
/// the key that minted it is revoked. Neither secret is ever logged.
/// </summary>
internal sealed class SluiceAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyService keys,
    AccessTokenService tokens,
    FailedAuthenticationThrottle throttle) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Sluice";
    public const string AccessTokenParameter = "access_token";
    private bool _throttled;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var hasCredential = Request.Headers.Authorization.Count > 0 || Request.Query.ContainsKey(AccessTokenParameter);
        if (hasCredential && throttle.IsBlocked(Context))
        {
            _throttled = true;
            return AuthenticateResult.Fail("Too many failed authentications from this address.");
        }

        var result = await AuthenticateCredentialAsync();
        if (result.Failure is not null)
        {
            throttle.RecordFailure(Context);
        }

        return result;
    }

    private async Task<AuthenticateResult> AuthenticateCredentialAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return AuthenticateResult.Fail("Unsupported authorization scheme.");
            }

            var key = await keys.AuthenticateAsync(authorization["Bearer ".Length..].Trim(), Context.RequestAborted);
            return key is null
                ? AuthenticateResult.Fail("Unknown, revoked or expired key.")
                : Success(new SluiceCaller(key.Tenant, key.Roles, key.Id, null, key.ExpiresAt));
        }

        if (Request.Query.TryGetValue(AccessTokenParameter, out var values))
        {
            var claims = await tokens.ValidateAsync(values.ToString(), Context.RequestAborted);
            if (claims is null || !await keys.IsActiveAsync(claims.KeyId, Context.RequestAborted))
            {
                return AuthenticateResult.Fail("Invalid or expired access token.");
            }

            return Success(new SluiceCaller(claims.Tenant, Roles.None, claims.KeyId, claims.Resource, claims.ExpiresAt));
        }

        return AuthenticateResult.NoResult();
    }

    /// <summary>
    /// Who the caller is lives in the <see cref="SluiceCaller"/> feature; the principal only says "authenticated".
    /// One shared ticket saves ~0.6 KB per open SSE connection (claims, identity, properties), measured with
    /// dotnet-gcdump at 10,000 connections.
    /// </summary>
    private static readonly AuthenticateResult Authenticated = AuthenticateResult.Success(
        new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(SchemeName)), SchemeName));

    private AuthenticateResult Success(SluiceCaller caller)
    {
        Context.Features.Set(caller);
        return Authenticated;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (_throttled)
        {
            Response.Headers.RetryAfter = ((int)FailedAuthenticationThrottle.Refill.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problem.WriteAsync(Context, StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyFailedAuthentications,
                "Too many failed authentications.", "This address sent too many unknown, revoked or expired credentials; retry after the delay with a valid one.");
        }

        Response.Headers.WWWAuthenticate = "Bearer";
        return Problem.WriteAsync(Context, StatusCodes.Status401Unauthorized, ProblemCodes.Unauthorized,
            "Authentication required.", "Send a valid API key as 'Authorization: Bearer <key>', or a valid access_token.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problem.WriteAsync(Context, StatusCodes.Status403Forbidden, ProblemCodes.Forbidden,
            "Forbidden.", "The credential does not carry the role this endpoint requires.");
}
