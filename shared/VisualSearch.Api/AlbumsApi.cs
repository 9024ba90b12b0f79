using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using VisualSearch.Albums;
using VisualSearch.Indexing;

namespace VisualSearch.Api;

/// <summary>
/// GET /api/albums (the albums the caller shares, with their members, and those shared with the caller) and
/// PUT /api/albums/{name}/members with <c>{"members":["&lt;object id&gt;",...]}</c> (the whole list; empty: shared
/// with no one). The album is always the caller's own: the owner comes from the token, never from the request,
/// so no one can add members to another owner's album. Members then see the album's records in searches and
/// reads, read-only. Needs a signed-in caller (400 on the single-user host, which shares nothing).
/// </summary>
public static class AlbumsApi
{
    /// <summary>Largest members body read.</summary>
    public const int MaxRequestBytes = 16 * 1024;

    public static async Task<IResult> ListAsync(HttpContext context, AlbumService albums, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(albums);
        if (Caller.Of(context).Owner is not { } owner) return Results.Ok(new AlbumListDto([], []));
        var list = await albums.ListAsync(owner, cancellationToken).ConfigureAwait(false);
        return Results.Ok(new AlbumListDto(
            [.. list.Shared.Select(s => new OwnAlbumDto(s.Album, s.Members))],
            [.. list.SharedWithMe.Select(s => new SharedAlbumDto(s.Owner, s.Album))]));
    }

    public static async Task<IResult> SetMembersAsync(string? name, HttpRequest request, AlbumService albums, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(albums);
        if (Caller.Of(request.HttpContext).Owner is not { } owner)
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Sign-in needed", "Albums are shared between signed-in users; this host has no sign-in (Auth:Authority).");
        if (!AlbumNames.IsValid(name))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid album", $"An album name is 1-{AlbumNames.MaxLength} characters without control characters or surrounding spaces.");
        var (members, problem) = await ApiHttp.ReadJsonAsync<MembersRequest>(request, MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null) return problem;

        if (members?.Members is not { } list)
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid members", "Send {\"members\":[\"<object id>\", ...]} (an empty list shares the album with no one).");
        if (AlbumNames.CheckMembers(owner, list) is { } invalid)
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid members", invalid);

        var share = await albums.SetMembersAsync(owner, name!, list!, cancellationToken).ConfigureAwait(false);
        return Results.Ok(new OwnAlbumDto(share.Album, share.Members));
    }

    private sealed record MembersRequest([property: JsonPropertyName("members")] string[]? Members);
}

public sealed record OwnAlbumDto(string Name, IReadOnlyList<string> Members);

public sealed record SharedAlbumDto(string Owner, string Name);

public sealed record AlbumListDto(IReadOnlyList<OwnAlbumDto> Shared, IReadOnlyList<SharedAlbumDto> SharedWithMe);
