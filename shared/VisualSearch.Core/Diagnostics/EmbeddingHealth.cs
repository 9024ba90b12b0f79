using System.Text.Json;

namespace VisualSearch.Diagnostics;

/// <summary>A snapshot of embedding statistics for one model.</summary>
/// <param name="Model">Model id.</param>
/// <param name="Count">Embeddings observed since start.</param>
/// <param name="MeanRawNorm">Mean L2 norm before normalisation (a collapse or input fault moves it).</param>
/// <param name="MeanDimensionVariance">Mean per-dimension variance of the normalised vectors.</param>
/// <param name="DeadDimensionShare">Share of dimensions whose variance is under 1% of the mean variance.</param>
/// <param name="Drift">
/// How far the mean embedding moved from the baseline's, in units of the baseline's spread:
/// |mean - baseline mean| / sqrt(total baseline variance). About 1/sqrt(n) for the same distribution; over 0.5 is a
/// clear shift (new camera, broken preprocessing, another model). Null without a baseline.
/// </param>
public sealed record EmbeddingHealthSnapshot(string Model, long Count, double MeanRawNorm, double MeanDimensionVariance, double DeadDimensionShare, double? Drift);

/// <summary>
/// Rolling statistics of the embeddings a process makes (Welford, per dimension), and a drift score
/// against a stored baseline (mean vector and total variance of the first <see cref="BaselineSize"/>
/// embeddings, saved to a file when a path is given, so later processes compare against the same reference).
/// </summary>
public sealed class EmbeddingHealth(string? baselinePath = null, int baselineSize = 500)
{
    private readonly Lock _gate = new();
    private string _model = "";
    private long _count;
    private double _normSum;
    private double[] _mean = [];
    private double[] _m2 = [];
    private double[]? _baseline;
    private double _baselineVariance;
    private bool _baselineLoaded;

    public int BaselineSize { get; } = baselineSize;

    public void Observe(string model, ReadOnlySpan<float> vector, float rawNorm)
    {
        lock (_gate)
        {
            if (_model != model || _mean.Length != vector.Length)
            {
                _model = model;
                _count = 0;
                _normSum = 0;
                _mean = new double[vector.Length];
                _m2 = new double[vector.Length];
                _baseline = null;
                _baselineLoaded = false;
            }

            LoadBaseline();
            _count++;
            _normSum += rawNorm;
            for (var i = 0; i < vector.Length; i++)
            {
                var delta = vector[i] - _mean[i];
                _mean[i] += delta / _count;
                _m2[i] += delta * (vector[i] - _mean[i]);
            }

            if (_baseline is null && _count == BaselineSize)
            {
                _baseline = (double[])_mean.Clone();
                _baselineVariance = _m2.Sum() / (_count - 1);
                SaveBaseline();
            }
        }
    }

    public EmbeddingHealthSnapshot? Snapshot()
    {
        lock (_gate)
        {
            if (_count == 0) return null;
            var variances = _m2.Select(m => _count > 1 ? m / (_count - 1) : 0).ToArray();
            var meanVariance = variances.Average();
            var dead = meanVariance > 0 ? variances.Count(v => v < 0.01 * meanVariance) / (double)variances.Length : 1.0;
            double? drift = _baseline is null || _count < Math.Min(50, BaselineSize) || _baselineVariance <= 0
                ? null
                : Math.Sqrt(_mean.Zip(_baseline, (a, b) => (a - b) * (a - b)).Sum() / _baselineVariance);
            return new EmbeddingHealthSnapshot(_model, _count, _normSum / _count, meanVariance, dead, drift);
        }
    }

    private void LoadBaseline()
    {
        if (_baselineLoaded) return;
        _baselineLoaded = true;
        if (baselinePath is null || !File.Exists(baselinePath)) return;
        try
        {
            var stored = JsonSerializer.Deserialize<Baseline>(File.ReadAllBytes(baselinePath));
            if (stored is not null && stored.Model == _model && stored.Mean.Length == _mean.Length && stored.TotalVariance > 0)
            {
                _baseline = stored.Mean;
                _baselineVariance = stored.TotalVariance;
            }
        }
        catch (JsonException)
        {
            // A damaged baseline is replaced by a new one.
        }
    }

    private void SaveBaseline()
    {
        if (baselinePath is null) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(baselinePath))!);
            var temp = baselinePath + ".tmp";
            File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(new Baseline(_model, _baseline!, _baselineVariance)));
            File.Move(temp, baselinePath, overwrite: true);
        }
        catch (IOException)
        {
            // Drift still works in memory for this process.
        }
    }

    private sealed record Baseline(string Model, double[] Mean, double TotalVariance);
}
