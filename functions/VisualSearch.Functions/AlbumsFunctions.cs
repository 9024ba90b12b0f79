using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using VisualSearch.Albums;
using VisualSearch.Api;

namespace VisualSearch.Functions;

/// <summary>Shared albums: bindings onto the shared handlers (the caller's own albums, and those shared with them).</summary>
public sealed class AlbumsFunctions(AlbumService albums)
{
    [Function("GetAlbums")]
    public async Task<IActionResult> GetAlbums(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "albums")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await AlbumsApi.ListAsync(request.HttpContext, albums, cancellationToken).ConfigureAwait(false));

    [Function("SetAlbumMembers")]
    public async Task<IActionResult> SetAlbumMembers(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "albums/{name}/members")] HttpRequest request, string name, CancellationToken cancellationToken) =>
        new ResultActionResult(await AlbumsApi.SetMembersAsync(name, request, albums, cancellationToken).ConfigureAwait(false));
}
