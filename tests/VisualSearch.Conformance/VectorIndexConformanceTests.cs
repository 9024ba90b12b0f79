using VisualSearch.Indexing;
using Xunit;

namespace VisualSearch.Tests.Conformance;

/// <summary>
/// The behaviour every <see cref="IVectorIndex"/> backend must show. Subclass once per backend and implement
/// <see cref="CreateIndexAsync"/>; each test creates its own empty index. The suite depends only on
/// VisualSearch.Core and xunit (project tests/VisualSearch.Conformance); each backend's test project references
/// it and subclasses it once per way the backend is opened.
/// </summary>
/// <remarks>
/// Vectors are hand-made, L2-normalised and 4-dimensional, so every expected cosine is known exactly.
/// Scores are compared within <see cref="ScoreTolerance"/> (a remote backend may round).
/// </remarks>
public abstract partial class VectorIndexConformanceTests : IAsyncLifetime
{
    protected const int Dimension = 4;
    protected const float ScoreTolerance = 1e-4f;
    protected static readonly IndexSchema Schema = new("m-1", Dimension);
    protected static readonly DateTimeOffset BaseTime = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly List<IVectorIndex> _created = [];

    /// <summary>A new, empty index for <paramref name="schema"/>, already initialised.</summary>
    protected abstract Task<IVectorIndex> CreateIndexAsync(IndexSchema schema);

    /// <summary>
    /// Opens the storage behind <paramref name="index"/> again (a new client or process would) and initialises
    /// it for <paramref name="schema"/>. The default initialises the same instance; a backend whose storage is
    /// exclusive overrides it to release <paramref name="index"/> first.
    /// </summary>
    protected virtual async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        await index.InitializeAsync(schema);
        return index;
    }

    /// <summary>Releases one index made by <see cref="CreateIndexAsync"/> (default: dispose it).</summary>
    protected virtual async Task DisposeIndexAsync(IVectorIndex index)
    {
        switch (index)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>Backend clean-up after each test (delete folders, remote indexes, ...); runs after every index is released.</summary>
    protected virtual Task CleanupAsync() => Task.CompletedTask;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var index in _created) await DisposeIndexAsync(index);
        await CleanupAsync();
    }

    protected async Task<IVectorIndex> NewIndexAsync()
    {
        var index = await CreateIndexAsync(Schema);
        _created.Add(index);
        return index;
    }

    /// <summary>Keeps track of an index opened by a test so that it is released at the end.</summary>
    protected void Track(IVectorIndex index)
    {
        if (!_created.Contains(index)) _created.Add(index);
    }

    protected static float[] Unit(params float[] values)
    {
        var norm = MathF.Sqrt(values.Sum(v => v * v));
        return values.Select(v => v / norm).ToArray();
    }

    protected static VectorRecord Record(
        string id,
        float[] vector,
        string contentType = "image/jpeg",
        string? album = null,
        DateTimeOffset? uploadedAt = null,
        string modelId = "m-1",
        string? owner = null,
        string? tag = null)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (album is not null) tags["album"] = album;
        if (owner is not null) tags["owner"] = owner;
        if (tag is not null) tags["tag"] = tag;
        return new VectorRecord(id, vector, new ItemMetadata
        {
            Source = "photos",
            Name = id + ".jpg",
            ETag = "\"etag-" + id + "\"",
            ContentHash = new string('a', 64),
            Size = 1234,
            ContentType = contentType,
            Width = 640,
            Height = 480,
            UploadedAt = uploadedAt ?? BaseTime,
            IndexedAt = BaseTime.AddDays(1),
            ModelId = modelId,
            Tags = tags,
        });
    }

    protected static void AssertSameMetadata(ItemMetadata expected, ItemMetadata actual)
    {
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.ETag, actual.ETag);
        Assert.Equal(expected.ContentHash, actual.ContentHash);
        Assert.Equal(expected.Size, actual.Size);
        Assert.Equal(expected.ContentType, actual.ContentType);
        Assert.Equal(expected.Width, actual.Width);
        Assert.Equal(expected.Height, actual.Height);
        Assert.Equal(expected.UploadedAt, actual.UploadedAt);
        Assert.Equal(expected.IndexedAt, actual.IndexedAt);
        Assert.Equal(expected.ModelId, actual.ModelId);
        Assert.Equal(expected.Tags.OrderBy(t => t.Key, StringComparer.Ordinal), actual.Tags.OrderBy(t => t.Key, StringComparer.Ordinal));
    }

    protected static void AssertVector(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6f);
    }

    /// <summary>Four records around the query [1, 0, 0, 0] with cosines 1, 0.8, 0.6 and -0.6.</summary>
    protected async Task<IVectorIndex> IndexWithFourRecordsAsync()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("a", Unit(1, 0, 0, 0), "image/png", album: "trip", uploadedAt: BaseTime));
        await index.UpsertAsync(Record("b", Unit(0.8f, 0.6f, 0, 0), "image/jpeg", album: "trip", uploadedAt: BaseTime.AddDays(10)));
        await index.UpsertAsync(Record("c", Unit(0.6f, 0, 0.8f, 0), "image/png", album: "home", uploadedAt: BaseTime.AddDays(20)));
        await index.UpsertAsync(Record("d", Unit(-0.6f, 0, 0, 0.8f), "image/jpeg", uploadedAt: BaseTime.AddDays(30)));
        return index;
    }

    protected static readonly float[] Query = [1, 0, 0, 0];

    private static string[] Ids(IReadOnlyList<SearchHit> hits) => hits.Select(h => h.Id).ToArray();

    [Fact]
    public async Task Upsert_then_get_round_trips_vector_and_metadata()
    {
        var index = await NewIndexAsync();
        var record = Record("images/a/b.jpg", Unit(0.1f, 0.2f, 0.3f, 0.4f), "image/webp", album: "O'Brien's", uploadedAt: BaseTime.AddHours(5));

        await index.UpsertAsync(record);
        var stored = await index.GetAsync(record.Id);

        Assert.NotNull(stored);
        Assert.Equal(record.Id, stored.Id);
        AssertVector(record.Vector, stored.Vector);
        AssertSameMetadata(record.Metadata, stored.Metadata);
    }

    [Fact]
    public async Task Upsert_of_the_same_id_replaces_the_record()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("x", Unit(1, 0, 0, 0), album: "first"));
        var replacement = Record("x", Unit(0, 1, 0, 0), "image/png", album: "second");

        await index.UpsertAsync(replacement);

        Assert.Equal(1, await index.CountAsync());
        var stored = await index.GetAsync("x");
        Assert.NotNull(stored);
        AssertVector(replacement.Vector, stored.Vector);
        AssertSameMetadata(replacement.Metadata, stored.Metadata);
        var hit = Assert.Single(await index.SearchAsync(Unit(0, 1, 0, 0), new VectorQuery(10)));
        Assert.Equal(1f, hit.Score, ScoreTolerance);
    }

    [Fact]
    public async Task Delete_returns_true_then_false()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("x", Unit(1, 0, 0, 0)));
        await index.UpsertAsync(Record("y", Unit(0, 1, 0, 0)));

        Assert.True(await index.DeleteAsync("x"));
        Assert.False(await index.DeleteAsync("x"));
        Assert.Null(await index.GetAsync("x"));
        Assert.Equal(1, await index.CountAsync());
        Assert.Equal(["y"], Ids(await index.SearchAsync(Query, new VectorQuery(10))));
    }

    [Fact]
    public async Task Delete_of_an_unknown_id_returns_false()
    {
        var index = await NewIndexAsync();
        Assert.False(await index.DeleteAsync("never-stored"));
    }

    [Fact]
    public async Task Get_of_an_unknown_id_is_null()
    {
        var index = await IndexWithFourRecordsAsync();
        Assert.Null(await index.GetAsync("unknown"));
    }

    [Fact]
    public async Task Search_returns_the_best_first_with_cosine_scores()
    {
        var index = await IndexWithFourRecordsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10));

        Assert.Equal(["a", "b", "c", "d"], Ids(hits));
        float[] expected = [1f, 0.8f, 0.6f, -0.6f];
        for (var i = 0; i < hits.Count; i++) Assert.Equal(expected[i], hits[i].Score, ScoreTolerance);
        Assert.Equal("image/jpeg", hits[1].Metadata.ContentType);
        Assert.Equal("trip", hits[1].Metadata.Tags["album"]);
    }

    [Fact]
    public async Task Search_scores_a_non_axis_query()
    {
        var index = await IndexWithFourRecordsAsync();
        var query = Unit(0, 0.6f, 0.8f, 0);

        var hits = await index.SearchAsync(query, new VectorQuery(10));

        // cos(c) = 0.8*0.8 = 0.64, cos(b) = 0.6*0.6 = 0.36, cos(a) = 0, cos(d) = 0.
        Assert.Equal(["c", "b"], Ids(hits).Take(2));
        Assert.Equal(0.64f, hits[0].Score, ScoreTolerance);
        Assert.Equal(0.36f, hits[1].Score, ScoreTolerance);
        Assert.All(hits.Skip(2), h => Assert.Equal(0f, h.Score, ScoreTolerance));
    }

    [Theory]
    [InlineData(1, new[] { "a" })]
    [InlineData(2, new[] { "a", "b" })]
    [InlineData(3, new[] { "a", "b", "c" })]
    [InlineData(100, new[] { "a", "b", "c", "d" })]
    public async Task K_limits_the_results(int k, string[] expected)
    {
        var index = await IndexWithFourRecordsAsync();
        Assert.Equal(expected, Ids(await index.SearchAsync(Query, new VectorQuery(k))));
    }

    [Fact]
    public async Task MinScore_drops_lower_scores()
    {
        var index = await IndexWithFourRecordsAsync();

        Assert.Equal(["a", "b"], Ids(await index.SearchAsync(Query, new VectorQuery(10, MinScore: 0.7f))));
        Assert.Equal(["a", "b", "c"], Ids(await index.SearchAsync(Query, new VectorQuery(10, MinScore: 0f))));
        Assert.Empty(await index.SearchAsync(Unit(0, 0, 0, -1), new VectorQuery(10, MinScore: 0.5f)));
    }

    [Fact]
    public async Task ExcludeId_is_never_returned()
    {
        var index = await IndexWithFourRecordsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(2, ExcludeId: "a"));

        Assert.Equal(["b", "c"], Ids(hits));
    }

    [Theory]
    [InlineData("contentType eq 'image/png'", new[] { "a", "c" })]
    [InlineData("contentType eq 'image/gif'", new string[0])]
    [InlineData("album eq 'trip'", new[] { "a", "b" })]
    [InlineData("album eq 'trip' and contentType eq 'image/jpeg'", new[] { "b" })]
    [InlineData("source eq 'photos'", new[] { "a", "b", "c", "d" })]
    [InlineData("uploadedAt ge 2024-01-11T00:00:00Z", new[] { "b", "c", "d" })]
    [InlineData("uploadedAt gt 2024-01-11T00:00:00Z", new[] { "c", "d" })]
    [InlineData("uploadedAt lt 2024-01-21T00:00:00Z", new[] { "a", "b" })]
    [InlineData("uploadedAt le 2024-01-21T00:00:00Z", new[] { "a", "b", "c" })]
    [InlineData("uploadedAt ge 2024-01-11T00:00:00Z and uploadedAt lt 2024-01-31T00:00:00Z", new[] { "b", "c" })]
    public async Task Filters_restrict_the_results(string filter, string[] expected)
    {
        var index = await IndexWithFourRecordsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse(filter)));

        Assert.Equal(expected, Ids(hits));
    }

    [Fact]
    public async Task Filter_values_with_quotes_match_exactly()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("q", Unit(1, 0, 0, 0), album: "O'Brien"));
        await index.UpsertAsync(Record("r", Unit(0, 1, 0, 0), album: "x' or 1 eq 1 or '"));

        Assert.Equal(["q"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'O''Brien'")))));
        Assert.Equal(["r"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'x'' or 1 eq 1 or '''")))));
    }

    [Fact]
    public async Task Owner_and_tag_filters_match_client_metadata()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("o1", Unit(1, 0, 0, 0), owner: "ann", tag: "cat"));
        await index.UpsertAsync(Record("o2", Unit(0.8f, 0.6f, 0, 0), owner: "bob", tag: "cat"));
        await index.UpsertAsync(Record("o3", Unit(0.6f, 0.8f, 0, 0), owner: "ann"));

        Assert.Equal(["o1", "o3"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("owner eq 'ann'")))));
        Assert.Equal(["o1", "o2"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("tag eq 'cat'")))));
        Assert.Equal(["o2"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("tag eq 'cat' and owner eq 'bob'")))));
    }

    [Fact]
    public async Task ExcludeId_combines_with_a_filter()
    {
        var index = await IndexWithFourRecordsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("contentType eq 'image/png'"), ExcludeId: "a"));

        Assert.Equal(["c"], Ids(hits));
    }

    /// <summary>Records of ann, bob and of no one (stored before sign-in), all near the query [1, 0, 0, 0].</summary>
    private async Task<IVectorIndex> IndexOfTwoOwnersAsync()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("ann/1", Unit(1, 0, 0, 0), owner: "ann", album: "trip"));
        await index.UpsertAsync(Record("bob/1", Unit(0.8f, 0.6f, 0, 0), owner: "bob", album: "trip"));
        await index.UpsertAsync(Record("ann/2", Unit(0.6f, 0.8f, 0, 0), owner: "ann"));
        await index.UpsertAsync(Record("nobody", Unit(0.9f, 0, 0.4359f, 0)));
        await index.UpsertAsync(Record("bob/2", Unit(1, 0.01f, 0, 0), owner: "bob"));
        return index;
    }

    [Fact]
    public async Task An_owner_scope_returns_only_that_owners_records()
    {
        var index = await IndexOfTwoOwnersAsync();

        Assert.Equal(["ann/1", "ann/2"], Ids(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("ann") })));
        Assert.Equal(["bob/2", "bob/1"], Ids(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("bob") })));
        Assert.Empty(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("carol") }));
        Assert.Equal(["ann/2"], Ids(await index.SearchAsync(Query, new VectorQuery(10, ExcludeId: "ann/1") { Scope = OwnerScope.Of("ann") })));
        Assert.Equal(["bob/2"], Ids(await index.SearchAsync(Query, new VectorQuery(1) { Scope = OwnerScope.Of("bob") })));
        // Everyone (an administrator, the server's own work) sees every record, including those stored without an owner.
        Assert.Equal(5, (await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Everyone })).Count);
    }

    [Theory]
    [InlineData("owner eq 'bob'")]
    [InlineData("owner eq 'bob' and album eq 'trip'")]
    [InlineData("album eq 'trip' and owner eq 'bob'")]
    [InlineData("owner eq 'ann'' or owner eq ''bob'")]
    [InlineData("owner eq 'x'') or (owner eq ''bob'")]
    public async Task A_client_filter_is_anded_under_the_scope_and_never_widens_it(string filter)
    {
        var index = await IndexOfTwoOwnersAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse(filter)) { Scope = OwnerScope.Of("ann") });

        Assert.Empty(hits);
    }

    [Fact]
    public async Task A_client_filter_narrows_within_the_scope()
    {
        var index = await IndexOfTwoOwnersAsync();

        Assert.Equal(["ann/1"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'trip'")) { Scope = OwnerScope.Of("ann") })));
        Assert.Equal(["ann/1", "ann/2"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("owner eq 'ann'")) { Scope = OwnerScope.Of("ann") })));
    }

    /// <summary>Ann, plus bob's album "trip" shared with her (bob's other records and carol's "trip" stay hidden).</summary>
    private static readonly OwnerScope AnnWithBobsTrip = OwnerScope.Of("ann", [new SharedAlbum("bob", "trip")]);

    private async Task<IVectorIndex> IndexWithSharedAlbumsAsync()
    {
        var index = await IndexOfTwoOwnersAsync();
        await index.UpsertAsync(Record("carol/1", Unit(0.95f, 0.05f, 0.3f, 0), owner: "carol", album: "trip"));
        await index.UpsertAsync(Record("bob/3", Unit(0.7f, 0.7f, 0.1f, 0), owner: "bob", album: "trip2"));
        return index;
    }

    [Fact]
    public async Task A_shared_album_is_visible_to_its_member_and_nothing_else_of_its_owner()
    {
        var index = await IndexWithSharedAlbumsAsync();

        Assert.Equal(["ann/1", "bob/1", "ann/2"], Ids(await index.SearchAsync(Query, new VectorQuery(10) { Scope = AnnWithBobsTrip })));
        Assert.Equal(["bob/1"], Ids(await index.SearchAsync(Query, new VectorQuery(1, ExcludeId: "ann/1") { Scope = AnnWithBobsTrip })));
        Assert.NotNull(await index.GetAsync("bob/1", AnnWithBobsTrip));
        Assert.Null(await index.GetAsync("bob/2", AnnWithBobsTrip));
        Assert.Null(await index.GetAsync("bob/3", AnnWithBobsTrip));
        Assert.Null(await index.GetAsync("carol/1", AnnWithBobsTrip));
        // Bob's own scope is unchanged by the share; a scope of only what ann owns drops the shared album.
        Assert.Equal(["bob/2", "bob/1", "bob/3"], Ids(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("bob") })));
        Assert.Equal(["ann/1", "ann/2"], Ids(await index.SearchAsync(Query, new VectorQuery(10) { Scope = AnnWithBobsTrip.OwnedOnly })));
    }

    [Theory]
    [InlineData("album eq 'trip2'")]
    [InlineData("owner eq 'bob' and album eq 'trip2'")]
    [InlineData("owner eq 'carol'")]
    [InlineData("album eq 'trip' and owner eq 'carol'")]
    [InlineData("album eq 'trip'' or album eq ''trip2'")]
    [InlineData("owner eq 'bob'') or (owner eq ''bob'")]
    [InlineData("album eq 'x'')) or ((owner eq ''bob'")]
    public async Task A_client_filter_cannot_widen_a_shared_scope_to_other_albums_or_owners(string filter)
    {
        var index = await IndexWithSharedAlbumsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse(filter)) { Scope = AnnWithBobsTrip });

        Assert.Empty(hits);
    }

    [Fact]
    public async Task A_client_filter_narrows_a_shared_scope()
    {
        var index = await IndexWithSharedAlbumsAsync();

        Assert.Equal(["bob/1"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("owner eq 'bob'")) { Scope = AnnWithBobsTrip })));
        Assert.Equal(["ann/1", "bob/1"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'trip'")) { Scope = AnnWithBobsTrip })));
        Assert.Equal(["ann/1"], Ids(await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'trip' and owner eq 'ann'")) { Scope = AnnWithBobsTrip })));
    }

    [Fact]
    public async Task A_scoped_get_of_another_owners_id_reads_like_a_missing_id()
    {
        var index = await IndexOfTwoOwnersAsync();

        var own = await index.GetAsync("ann/1", OwnerScope.Of("ann"));
        Assert.NotNull(own);
        Assert.Equal("ann", OwnerIds.OwnerOf(own.Metadata));
        Assert.Null(await index.GetAsync("bob/1", OwnerScope.Of("ann")));
        Assert.Null(await index.GetAsync("nobody", OwnerScope.Of("ann")));
        Assert.Null(await index.GetAsync("no-such-id", OwnerScope.Of("ann")));
        Assert.NotNull(await index.GetAsync("bob/1", OwnerScope.Everyone));
        Assert.NotNull(await index.GetAsync("nobody", OwnerScope.Everyone));
    }

    [Theory]
    [InlineData("images/holiday 2024/IMG_0001.JPG")]
    [InlineData("photos/caf\u00e9/\u00fcber+na\u00efve=1&x;y.png")]
    [InlineData("a/b/c/d/e.f.g.webp")]
    [InlineData("it's/\"quoted\"/name (1).jpg")]
    public async Task Ids_with_any_allowed_characters_round_trip(string id)
    {
        var index = await IndexWithFourRecordsAsync();
        var record = Record(id, Unit(0.9f, 0.1f, 0, 0));

        await index.UpsertAsync(record);

        var stored = await index.GetAsync(id);
        Assert.NotNull(stored);
        Assert.Equal(id, stored.Id);
        Assert.Equal(id, (await index.SearchAsync(Query, new VectorQuery(2))).Select(h => h.Id).Skip(1).First());
        Assert.DoesNotContain(id, Ids(await index.SearchAsync(Query, new VectorQuery(10, ExcludeId: id))));
        Assert.True(await index.DeleteAsync(id));
        Assert.Null(await index.GetAsync(id));
    }

    [Fact]
    public async Task An_id_of_1024_characters_round_trips()
    {
        var index = await NewIndexAsync();
        var id = string.Concat(Enumerable.Repeat("dir\u00e9/", 250))[..1023] + "x";
        var other = id[..1023] + "Z";

        await index.UpsertAsync(Record(id, Unit(1, 0, 0, 0), album: "long"));
        await index.UpsertAsync(Record(other, Unit(0, 1, 0, 0), album: "other"));

        Assert.Equal("long", (await index.GetAsync(id))?.Metadata.Tags["album"]);
        Assert.Equal("other", (await index.GetAsync(other))?.Metadata.Tags["album"]);
        Assert.Equal([other], Ids(await index.SearchAsync(Query, new VectorQuery(1, ExcludeId: id))));
    }

    [Fact]
    public async Task Records_of_another_model_are_refused()
    {
        var index = await NewIndexAsync();

        await Assert.ThrowsAsync<IndexModelMismatchException>(() => index.UpsertAsync(Record("x", Unit(1, 0, 0, 0), modelId: "m-2")));

        Assert.Equal(0, await index.CountAsync());
    }

    [Fact]
    public async Task Count_follows_upserts_and_deletes()
    {
        var index = await NewIndexAsync();
        Assert.Equal(0, await index.CountAsync());
        await index.UpsertAsync(Record("a", Unit(1, 0, 0, 0)));
        await index.UpsertAsync(Record("b", Unit(0, 1, 0, 0)));
        await index.UpsertAsync(Record("a", Unit(0, 0, 1, 0)));
        Assert.Equal(2, await index.CountAsync());
        await index.DeleteAsync("b");
        Assert.Equal(1, await index.CountAsync());
    }

    [Fact]
    public async Task Search_of_an_empty_index_returns_nothing()
    {
        var index = await NewIndexAsync();
        Assert.Empty(await index.SearchAsync(Query, new VectorQuery(10)));
    }

    [Fact]
    public async Task Vectors_of_the_wrong_dimension_are_refused()
    {
        var index = await NewIndexAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => index.UpsertAsync(Record("x", Unit(1, 0, 0))));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => index.SearchAsync(new float[] { 1, 0, 0, 0, 0 }, new VectorQuery(10)));
        Assert.Equal(0, await index.CountAsync());
    }

    [Fact]
    public async Task Opening_an_index_of_another_model_throws_IndexModelMismatchException()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("a", Unit(1, 0, 0, 0)));

        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => ReopenAsync(index, new IndexSchema("m-2", Dimension)));

        Assert.Equal("m-1", ex.IndexModelId);
        Assert.Equal("m-2", ex.ConfiguredModelId);
    }
}
