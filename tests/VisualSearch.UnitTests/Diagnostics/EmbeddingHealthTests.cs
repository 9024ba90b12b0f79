using VisualSearch.Diagnostics;

namespace VisualSearch.Tests.Diagnostics;

public sealed class EmbeddingHealthTests
{
    private static float[] Unit(Random rng, int dim, int deadFrom = int.MaxValue, float shift = 0)
    {
        var v = new float[dim];
        for (var i = 0; i < dim; i++) v[i] = i >= deadFrom ? 0f : (float)(rng.NextDouble() * 2 - 1) + (i == 0 ? shift : 0);
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        for (var i = 0; i < dim; i++) v[i] /= norm;
        return v;
    }

    [Fact]
    public void Reports_norm_variance_and_dead_dimensions()
    {
        var health = new EmbeddingHealth();
        var rng = new Random(1);
        for (var n = 0; n < 200; n++) health.Observe("m", Unit(rng, 8, deadFrom: 6), rawNorm: 10 + n % 2);
        var s = health.Snapshot()!;
        Assert.Equal("m", s.Model);
        Assert.Equal(200, s.Count);
        Assert.Equal(10.5, s.MeanRawNorm, 6);
        Assert.True(s.MeanDimensionVariance > 0);
        // Dimensions 6 and 7 never move: the collapse detector counts exactly them, not the six live ones.
        Assert.Equal(2 / 8.0, s.DeadDimensionShare, 9);
        Assert.Null(s.Drift); // no baseline yet: 500 embeddings make one
    }

    [Fact]
    public void A_constant_embedding_is_all_dead()
    {
        var health = new EmbeddingHealth();
        var v = Unit(new Random(2), 16);
        for (var n = 0; n < 10; n++) health.Observe("m", v, 1);
        Assert.Equal(1.0, health.Snapshot()!.DeadDimensionShare);
    }

    [Fact]
    public void Drift_is_small_for_the_same_distribution_and_large_after_a_shift_and_the_baseline_is_stored()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "baseline.json");
        var rng = new Random(3);
        var first = new EmbeddingHealth(path, baselineSize: 300);
        for (var n = 0; n < 600; n++) first.Observe("m", Unit(rng, 32), 1);
        Assert.True(File.Exists(path));
        Assert.InRange(first.Snapshot()!.Drift!.Value, 0, 0.2);

        // A later process reads the stored baseline and sees the shifted distribution drift away from it.
        var second = new EmbeddingHealth(path, baselineSize: 300);
        for (var n = 0; n < 300; n++) second.Observe("m", Unit(rng, 32, shift: 3), 1);
        Assert.True(second.Snapshot()!.Drift > 0.5, $"drift {second.Snapshot()!.Drift}");

        // Another model never compares against this baseline.
        var other = new EmbeddingHealth(path, baselineSize: 300);
        for (var n = 0; n < 100; n++) other.Observe("other-model", Unit(rng, 32, shift: 3), 1);
        Assert.Null(other.Snapshot()!.Drift);
    }

    [Fact]
    public void Only_the_first_invocation_is_cold()
    {
        var time = new ManualTime { Now = DateTimeOffset.UtcNow };
        var cold = new ColdStart(time);
        time.Now += TimeSpan.FromSeconds(2);
        var first = cold.BeginInvocation();
        var second = cold.BeginInvocation();
        Assert.True(first.IsCold);
        Assert.NotNull(first.SinceProcessStartMs);
        Assert.True(first.SinceProcessStartMs >= 2000);
        Assert.False(second.IsCold);
        Assert.Null(second.SinceProcessStartMs);
        Assert.Equal(2, cold.Invocations);
        Assert.False(string.IsNullOrEmpty(cold.InstanceId));
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
