using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>The exact scan on its own, over a slot table it is handed: order, ties, filters, exclusion, deleted slots.</summary>
public sealed class ExactScanTests
{
    private readonly SlotTable _records = new();
    private readonly ExactScan _scan = new(3);

    [Fact]
    public void The_best_k_come_first_with_their_cosines()
    {
        Add("x", Unit(1, 0, 0));
        Add("near", Unit(1, 0.1f, 0));
        Add("far", Unit(0, 0, 1));
        Add("middle", Unit(1, 1, 0));

        var hits = _scan.Search(Unit(1, 0, 0), new VectorQuery(3), _records, default);

        Assert.Equal(["x", "near", "middle"], hits.Select(h => h.Id));
        Assert.Equal(1f, hits[0].Score, 1e-6f);
        Assert.Equal(MathF.Sqrt(0.5f), hits[2].Score, 1e-6f);
        Assert.Equal("middle.jpg", hits[2].Metadata.Name);
    }

    [Theory]
    [InlineData(0, 1, 512, 1024)]
    [InlineData(1024, 1025, 512, 2048)]
    [InlineData(1_048_576, 1_048_577, 512, 2_097_152)]
    // 50k items x 59 vectors: doubling 2,097,152 rows of 512 floats went past int.MaxValue and Array.Resize was given a
    // negative size (the regional bench at 50k items); now capped at what one array holds.
    [InlineData(2_097_152, 2_097_153, 512, 4_194_303)]
    [InlineData(2_097_152, 2_950_000, 512, 4_194_303)]
    [InlineData(100, 5000, 16, 5000)]
    public void Growth_doubles_without_overflowing_and_stops_at_one_array(int rows, int slots, int dimension, int expected)
    {
        var capacity = ExactScan.NextCapacity(rows, slots, dimension);

        Assert.Equal(expected, capacity);
        Assert.True((long)capacity * dimension <= Array.MaxLength);
    }

    [Fact]
    public void More_rows_than_one_array_holds_are_refused_with_what_to_do()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ExactScan.NextCapacity(4_194_303, 4_194_304, 512));

        Assert.Contains("AnnThreshold", ex.Message, StringComparison.Ordinal);
        Assert.Contains("4,194,303", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equal_scores_are_ordered_by_the_smaller_id()
    {
        foreach (var id in new[] { "d", "b", "c", "a" }) Add(id, Unit(0, 1, 0));

        var hits = _scan.Search(Unit(0, 1, 0), new VectorQuery(3), _records, default);

        Assert.Equal(["a", "b", "c"], hits.Select(h => h.Id));
    }

    [Fact]
    public void Filter_exclusion_minimum_score_and_deleted_slots_are_honoured()
    {
        Add("a", Unit(1, 0, 0), "kept");
        Add("b", Unit(1, 0.2f, 0), "kept");
        Add("c", Unit(1, 0.1f, 0), "other");
        Add("d", Unit(0, 1, 0), "kept");
        Add("gone", Unit(1, 0, 0), "kept");
        _records.Remove("gone", out _);

        var query = new VectorQuery(10, MinScore: 0.5f, Filter: SearchFilter.Parse("album eq 'kept'"), ExcludeId: "a");
        var hits = _scan.Search(Unit(1, 0, 0), query, _records, default);

        Assert.Equal(["b"], hits.Select(h => h.Id));
    }

    [Fact]
    public void A_moved_row_is_found_under_its_new_slot()
    {
        Add("a", Unit(1, 0, 0));
        Add("b", Unit(0, 1, 0));
        _records.Remove("a", out _);
        _records.Renumber(_records.LiveSlots(), [0], _scan.Move);

        Assert.Equal(Unit(0, 1, 0), _scan.Row(0).ToArray());
        Assert.Equal(["b"], _scan.Search(Unit(0, 1, 0), new VectorQuery(5), _records, default).Select(h => h.Id));
    }

    [Fact]
    public void A_vector_of_another_dimension_is_refused()
    {
        Assert.Throws<ArgumentException>(() => _scan.Set(0, [1f, 0]));
    }

    [Fact]
    public void A_cancelled_scan_stops()
    {
        Add("a", Unit(1, 0, 0));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => _scan.Search(Unit(1, 0, 0), new VectorQuery(1), _records, cts.Token));
    }

    private void Add(string id, float[] vector, string album = "a")
    {
        var (slot, _) = _records.Set(id, Metadata(id, album), 0);
        _scan.Set(slot, vector);
    }
}
