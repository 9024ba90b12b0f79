using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using VisualSearch.Api;
using VisualSearch.Duplicates;
using VisualSearch.Search;

namespace VisualSearch.Functions;

/// <summary>Near-duplicate groups and the decisions about them: bindings onto the shared handlers.</summary>
public sealed class DuplicatesFunctions(DuplicateService duplicates, SearchService search)
{
    [Function("GetDuplicates")]
    public async Task<IActionResult> GetDuplicates(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "duplicates")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await DuplicatesApi.GetGroupsAsync(request, duplicates, search, cancellationToken).ConfigureAwait(false));

    [Function("DuplicateDecisions")]
    public async Task<IActionResult> DuplicateDecisions(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "duplicates/decisions")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await DuplicatesApi.DecideAsync(request, duplicates, cancellationToken).ConfigureAwait(false));
}
