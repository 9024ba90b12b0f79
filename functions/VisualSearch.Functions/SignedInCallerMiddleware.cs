using System.Collections.Frozen;
using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using VisualSearch.Api;

namespace VisualSearch.Functions;

/// <summary>
/// Which HTTP functions serve people. A person's app never holds a function key, so person-facing functions are
/// <see cref="AuthorizationLevel.Anonymous"/> to the Functions host: on Azure, App Service authentication validates
/// the caller's Entra token before the code runs, and <see cref="SignedInCallerMiddleware"/> checks that a validated
/// principal is there. Needing no person: <see cref="AuthorizationLevel.Function"/> functions (machine to machine: the
/// host checked a key that only Event Grid holds) and those marked <see cref="AllowAnonymousAttribute"/> (the health
/// probe, the page's files). Any other HTTP function, including one this table does not know, needs a person.
/// </summary>
public static class FunctionAccess
{
    private static readonly FrozenSet<string> WithoutPerson = typeof(FunctionAccess).Assembly.GetTypes()
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
        .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null && !NeedsSignedInCaller(m))
        .Select(m => m.GetCustomAttribute<FunctionAttribute>()!.Name)
        .ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True unless the function named <paramref name="functionName"/> is known to need no person.</summary>
    public static bool NeedsSignedInCaller(string functionName) => !WithoutPerson.Contains(functionName);

    /// <summary>
    /// True for an HTTP function at <see cref="AuthorizationLevel.Anonymous"/> without <see cref="AllowAnonymousAttribute"/>;
    /// false for key-protected ones, anonymous ones so marked, and other triggers (they have no HTTP caller).
    /// </summary>
    public static bool NeedsSignedInCaller(MethodInfo function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var trigger = function.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>().FirstOrDefault();
        return trigger is not null && trigger.AuthLevel == AuthorizationLevel.Anonymous && function.GetCustomAttribute<AllowAnonymousAttribute>() is null;
    }
}

/// <summary>
/// The code's check behind App Service authentication: before a person-facing HTTP function runs
/// (<see cref="FunctionAccess"/>), the caller must be a principal the platform validated
/// (<see cref="ICallerResolver"/>: only with Auth__AppService, whose principal header the platform sets and strips from
/// client requests). Without one the answer is 401 with <c>WWW-Authenticate: Bearer</c> and a problem body, and the
/// function never runs: a deployment without App Service authentication, or a forged header there, gets no record.
/// </summary>
public sealed class SignedInCallerMiddleware(ICallerResolver callers) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.GetHttpContext() is { } http && FunctionAccess.NeedsSignedInCaller(context.FunctionDefinition.Name))
        {
            if (callers.Resolve(http) is not { } caller)
            {
                await ApiAuthenticationExtensions.ChallengeAsync(http, tokenRefused: false).ConfigureAwait(false);
                return;
            }

            Caller.Set(http, caller);
        }

        await next(context).ConfigureAwait(false);
    }
}
