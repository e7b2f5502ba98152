using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Sluice.Tenancy;

namespace Sluice.Http.Auth;

/// <summary>Authorization policies by role. Access tokens satisfy only <see cref="SubscribeOrToken"/>.</summary>
internal static class SluicePolicies
{
    public const string Subscribe = "sluice:subscribe";
    public const string SubscribeOrToken = "sluice:subscribe-or-token";
    public const string Publish = "sluice:publish";
    public const string Read = "sluice:read";
    public const string Admin = "sluice:admin";
    public const string Any = "sluice:any-key";
    public const string Generate = "sluice:generate";
    public const string GenerationRead = "sluice:generation-read";
    public const string GenerationEvents = "sluice:generation-events";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Subscribe, Role(Roles.Subscribe));
        options.AddPolicy(Publish, Role(Roles.Publish));
        options.AddPolicy(Admin, Role(Roles.Admin));
        options.AddPolicy(Read, Require(c => c.Grants(Roles.Subscribe) || c.Grants(Roles.Publish)));
        options.AddPolicy(SubscribeOrToken, Require(c => c.IsToken || c.Grants(Roles.Subscribe)));
        options.AddPolicy(Any, Require(c => !c.IsToken));
        options.AddPolicy(Generate, Role(Roles.Generate));
        options.AddPolicy(GenerationRead, Require(c => c.Grants(Roles.Generate) || c.Grants(Roles.Subscribe)));
        options.AddPolicy(GenerationEvents, Require(c => c.IsToken || c.Grants(Roles.Generate) || c.Grants(Roles.Subscribe)));
    }

    private static AuthorizationPolicy Role(Roles role) => Require(c => c.Grants(role));

    private static AuthorizationPolicy Require(Func<SluiceCaller, bool> predicate) =>
        new AuthorizationPolicyBuilder(SluiceAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .RequireAssertion(ctx => ctx.Resource is HttpContext http && http.Features.Get<SluiceCaller>() is { } caller && predicate(caller))
            .Build();
}
