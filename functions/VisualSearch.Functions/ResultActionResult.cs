using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace VisualSearch.Functions;

/// <summary>Runs a minimal-API <see cref="IResult"/> (the shared handlers' return type) as a Functions action result.</summary>
public sealed class ResultActionResult(IResult result) : IActionResult
{
    public IResult Result { get; } = result;

    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Result.ExecuteAsync(context.HttpContext);
    }
}
