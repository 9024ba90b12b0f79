using System.Numerics.Tensors;

namespace VisualSearch.Training;

/// <summary>Principal components of a set of vectors: the mean, and the covariance's eigenvectors by decreasing eigenvalue.</summary>
public sealed class Pca
{
    private Pca(float[] mean, double[] eigenvalues, double[][] components)
    {
        Mean = mean;
        Eigenvalues = eigenvalues;
        Components = components;
    }

    public float[] Mean { get; }

    /// <summary>Variances along the components, largest first.</summary>
    public IReadOnlyList<double> Eigenvalues { get; }

    /// <summary>Unit eigenvectors (each of the input dimension), in the order of <see cref="Eigenvalues"/>.</summary>
    public IReadOnlyList<double[]> Components { get; }

    public static Pca Fit(IReadOnlyList<float[]> vectors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentOutOfRangeException.ThrowIfLessThan(vectors.Count, 2);
        var n = vectors.Count;
        var d = vectors[0].Length;
        var mean = new float[d];
        foreach (var v in vectors) TensorPrimitives.Add(mean, v, mean);
        TensorPrimitives.Divide(mean, n, mean);

        var columns = new float[d][];
        for (var j = 0; j < d; j++)
        {
            var column = new float[n];
            for (var i = 0; i < n; i++) column[i] = vectors[i][j] - mean[j];
            columns[j] = column;
        }

        var covariance = new double[d * d];
        Parallel.For(0, d, new ParallelOptions { CancellationToken = cancellationToken }, a =>
        {
            for (var b = a; b < d; b++)
            {
                var c = TensorPrimitives.Dot(columns[a], columns[b]) / (double)n;
                covariance[a * d + b] = c;
                covariance[b * d + a] = c;
            }
        });

        var (values, vectorsByColumn) = SymmetricEigen(covariance, d, cancellationToken);
        var order = Enumerable.Range(0, d).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        var components = new double[d][];
        var sorted = new double[d];
        for (var r = 0; r < d; r++)
        {
            var k = order[r];
            sorted[r] = Math.Max(0, values[k]);
            var u = new double[d];
            for (var i = 0; i < d; i++) u[i] = vectorsByColumn[i * d + k];
            // A fixed sign (largest entry positive), so results do not depend on rotation order details.
            var largest = 0;
            for (var i = 1; i < d; i++) if (Math.Abs(u[i]) > Math.Abs(u[largest])) largest = i;
            if (u[largest] < 0) for (var i = 0; i < d; i++) u[i] = -u[i];
            components[r] = u;
        }

        return new Pca(mean, sorted, components);
    }

    /// <summary>
    /// Eigen-decomposition of a symmetric n x n matrix (row-major): Householder reduction to tridiagonal form,
    /// then the implicit QL algorithm (tred2/tql2 of EISPACK, as in JAMA). Returns the eigenvalues and the
    /// eigenvectors as the columns of a row-major n x n matrix. The input is left as it was.
    /// </summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(double[] a, int n, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Length != n * n) throw new ArgumentException($"Expected {n * n} values.", nameof(a));
        var v = new double[n][];
        for (var i = 0; i < n; i++) v[i] = a.AsSpan(i * n, n).ToArray();
        var d = new double[n];
        var e = new double[n];
        Tridiagonalise(v, d, e, n);
        cancellationToken.ThrowIfCancellationRequested();
        DiagonaliseTridiagonal(v, d, e, n);

        var vectors = new double[n * n];
        for (var i = 0; i < n; i++) v[i].CopyTo(vectors, i * n);
        return (d, vectors);
    }

    private static void Tridiagonalise(double[][] v, double[] d, double[] e, int n)
    {
        for (var j = 0; j < n; j++) d[j] = v[n - 1][j];
        for (var i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (var k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (var j = 0; j < i; j++)
                {
                    d[j] = v[i - 1][j];
                    v[i][j] = 0;
                    v[j][i] = 0;
                }
            }
            else
            {
                for (var k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }

                var f = d[i - 1];
                var g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (var j = 0; j < i; j++) e[j] = 0;
                for (var j = 0; j < i; j++)
                {
                    f = d[j];
                    v[j][i] = f;
                    g = e[j] + v[j][j] * f;
                    for (var k = j + 1; k <= i - 1; k++)
                    {
                        g += v[k][j] * d[k];
                        e[k] += v[k][j] * f;
                    }

                    e[j] = g;
                }

                f = 0;
                for (var j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }

                var hh = f / (h + h);
                for (var j = 0; j < i; j++) e[j] -= hh * d[j];
                for (var j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    for (var k = j; k <= i - 1; k++) v[k][j] -= f * e[k] + g * d[k];
                    d[j] = v[i - 1][j];
                    v[i][j] = 0;
                }
            }

            d[i] = h;
        }

        for (var i = 0; i < n - 1; i++)
        {
            v[n - 1][i] = v[i][i];
            v[i][i] = 1;
            var h = d[i + 1];
            if (h != 0)
            {
                for (var k = 0; k <= i; k++) d[k] = v[k][i + 1] / h;
                for (var j = 0; j <= i; j++)
                {
                    double g = 0;
                    for (var k = 0; k <= i; k++) g += v[k][i + 1] * v[k][j];
                    for (var k = 0; k <= i; k++) v[k][j] -= g * d[k];
                }
            }

            for (var k = 0; k <= i; k++) v[k][i + 1] = 0;
        }

        for (var j = 0; j < n; j++)
        {
            d[j] = v[n - 1][j];
            v[n - 1][j] = 0;
        }

        v[n - 1][n - 1] = 1;
        e[0] = 0;
    }

    private static void DiagonaliseTridiagonal(double[][] v, double[] d, double[] e, int n)
    {
        for (var i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0;
        var eps = Math.Pow(2, -52);
        for (var l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            var m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1) m++;
            if (m > l)
            {
                var iterations = 0;
                do
                {
                    if (++iterations > 300) throw new InvalidOperationException("The eigen-decomposition did not converge.");
                    var g = d[l];
                    var p = (d[l + 1] - g) / (2 * e[l]);
                    var r = Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    var dl1 = d[l + 1];
                    var h = g - d[l];
                    for (var i = l + 2; i < n; i++) d[i] -= h;
                    f += h;

                    p = d[m];
                    double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
                    var el1 = e[l + 1];
                    for (var i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        for (var k = 0; k < n; k++)
                        {
                            h = v[k][i + 1];
                            v[k][i + 1] = s * v[k][i] + c * h;
                            v[k][i] = c * v[k][i] - s * h;
                        }
                    }

                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (Math.Abs(e[l]) > eps * tst1);
            }

            d[l] += f;
            e[l] = 0;
        }
    }

    private static double Hypot(double a, double b)
    {
        a = Math.Abs(a);
        b = Math.Abs(b);
        if (a < b) (a, b) = (b, a);
        if (a == 0) return 0;
        var t = b / a;
        return a * Math.Sqrt(1 + t * t);
    }
}
