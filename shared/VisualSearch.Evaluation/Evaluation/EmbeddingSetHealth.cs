using System.Numerics.Tensors;

namespace VisualSearch.Evaluation;

/// <summary>
/// Health of a whole set of embeddings, a collapse detector (the offline counterpart of the running
/// <see cref="Diagnostics.EmbeddingHealth"/>, with the same near-dead rule): a healthy space spreads over many dimensions;
/// a collapsed one puts everything on a few (low effective dimension, many near-dead dimensions, a high mean
/// cosine between unrelated items).
/// </summary>
/// <param name="Count">Vectors measured.</param>
/// <param name="Dimension">Their length.</param>
/// <param name="MeanRawNorm">Mean norm before L2 normalisation (NaN when unknown).</param>
/// <param name="MeanVariance">Mean over dimensions of the per-dimension variance of the normalised vectors.</param>
/// <param name="MinVariance">Smallest per-dimension variance.</param>
/// <param name="MaxVariance">Largest per-dimension variance.</param>
/// <param name="NearDeadShare">Share of dimensions whose variance is under <see cref="NearDeadFraction"/> of the mean variance.</param>
/// <param name="EffectiveDimension">Participation ratio of the covariance eigenvalues, (sum l)^2 / sum l^2: 1 when all variance lies on one axis, D when it is spread evenly.</param>
/// <param name="MeanCosine">Mean cosine similarity between two different items (0 for an isotropic space, 1 for a collapsed one).</param>
public sealed record EmbeddingSetHealth(
    int Count,
    int Dimension,
    double MeanRawNorm,
    double MeanVariance,
    double MinVariance,
    double MaxVariance,
    double NearDeadShare,
    double EffectiveDimension,
    double MeanCosine)
{
    /// <summary>A dimension is near-dead when its variance is under this fraction of the mean variance.</summary>
    public const double NearDeadFraction = 0.01;

    /// <param name="vectors">L2-normalised vectors of equal length.</param>
    /// <param name="rawNorms">Their norms before normalisation, if known.</param>
    public static EmbeddingSetHealth Compute(IReadOnlyList<float[]> vectors, IReadOnlyList<float>? rawNorms = null)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0) return new EmbeddingSetHealth(0, 0, double.NaN, 0, 0, 0, 0, 0, 0);
        var n = vectors.Count;
        var d = vectors[0].Length;

        var mean = new double[d];
        foreach (var v in vectors)
        {
            if (v.Length != d) throw new ArgumentException("The vectors differ in length.", nameof(vectors));
            for (var j = 0; j < d; j++) mean[j] += v[j];
        }

        for (var j = 0; j < d; j++) mean[j] /= n;

        // Centred columns (dimension-major), then the covariance from their dot products.
        var columns = new float[d][];
        for (var j = 0; j < d; j++)
        {
            var column = new float[n];
            for (var i = 0; i < n; i++) column[i] = (float)(vectors[i][j] - mean[j]);
            columns[j] = column;
        }

        var variance = new double[d];
        var offDiagonalSquares = new double[d];
        Parallel.For(0, d, j =>
        {
            variance[j] = TensorPrimitives.Dot(columns[j], columns[j]) / (double)n;
            double sum = 0;
            for (var k = j + 1; k < d; k++)
            {
                var c = TensorPrimitives.Dot(columns[j], columns[k]) / (double)n;
                sum += c * c;
            }

            offDiagonalSquares[j] = sum;
        });

        var trace = variance.Sum();
        var frobenius = variance.Sum(v => v * v) + 2 * offDiagonalSquares.Sum();
        var meanVariance = trace / d;
        var nearDead = variance.Count(v => v < NearDeadFraction * meanVariance);

        // For unit vectors the sum over pairs i != j of cos(i, j) is |sum of vectors|^2 - n.
        var meanNormSquared = mean.Sum(m => m * m);
        var meanCosine = n > 1 ? (n * n * meanNormSquared - n) / ((double)n * (n - 1)) : 0;

        var meanRawNorm = rawNorms is { Count: > 0 } ? rawNorms.Average(x => (double)x) : double.NaN;
        return new EmbeddingSetHealth(
            n,
            d,
            meanRawNorm,
            meanVariance,
            variance.Min(),
            variance.Max(),
            (double)nearDead / d,
            frobenius > 0 ? trace * trace / frobenius : 0,
            meanCosine);
    }
}
